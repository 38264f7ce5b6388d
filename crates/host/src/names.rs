//! iproute2's words and number formats: the name tables it ships in
//! `/etc/iproute2` (`rt_tables`, `rt_protos`, `rt_scopes`, `rt_dsfield`,
//! `group`), route type words (`rtnl_rtntype_*`), IP protocol names, and its
//! address parsing (`get_addr_ipv4`, `get_prefix`), so that loading and
//! printing speak exactly as `ip` does.

use std::net::Ipv4Addr;

use fwdsim_kernel::netns::rt_table;
use fwdsim_kernel::uapi::{RouteType, RtProt, RtScope};

/// `/etc/iproute2/rt_protos` of iproute2 6.1.
const PROTOS: &[(u8, &str)] = &[
    (0, "unspec"),
    (1, "redirect"),
    (2, "kernel"),
    (3, "boot"),
    (4, "static"),
    (8, "gated"),
    (9, "ra"),
    (10, "mrt"),
    (11, "zebra"),
    (12, "bird"),
    (13, "dnrouted"),
    (14, "xorp"),
    (15, "ntk"),
    (16, "dhcp"),
    (18, "keepalived"),
    (42, "babel"),
    (99, "openr"),
    (186, "bgp"),
    (187, "isis"),
    (188, "ospf"),
    (189, "rip"),
    (192, "eigrp"),
];

/// `/etc/iproute2/rt_dsfield` of iproute2 6.1.
const DSFIELDS: &[(u8, &str)] = &[
    (0x00, "default"),
    (0x28, "AF11"),
    (0x30, "AF12"),
    (0x38, "AF13"),
    (0x48, "AF21"),
    (0x50, "AF22"),
    (0x58, "AF23"),
    (0x68, "AF31"),
    (0x70, "AF32"),
    (0x78, "AF33"),
    (0x88, "AF41"),
    (0x90, "AF42"),
    (0x98, "AF43"),
    (0x20, "CS1"),
    (0x40, "CS2"),
    (0x60, "CS3"),
    (0x80, "CS4"),
    (0xA0, "CS5"),
    (0xC0, "CS6"),
    (0xE0, "CS7"),
    (0xB8, "EF"),
];

/// The IP protocol names `ip rule` prints and accepts (`inet_proto_n2a`,
/// with the common `/etc/protocols` names).
const IPPROTOS: &[(u8, &str)] = &[
    (1, "icmp"),
    (2, "igmp"),
    (4, "ipip"),
    (6, "tcp"),
    (17, "udp"),
    (33, "dccp"),
    (41, "ipv6"),
    (47, "gre"),
    (50, "esp"),
    (51, "ah"),
    (58, "ipv6-icmp"),
    (132, "sctp"),
];

/// `strtoul(s, &end, base)` over the whole string: `None` unless every
/// character is used. Base 0 follows C: `0x` hex, leading `0` octal.
pub fn strtoul(s: &str, base: u32) -> Option<u64> {
    let (digits, radix) = match base {
        0 => {
            if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                (h, 16)
            } else if s.len() > 1 && s.starts_with('0') {
                (&s[1..], 8)
            } else {
                (s, 10)
            }
        }
        16 => (
            s.strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .unwrap_or(s),
            16,
        ),
        b => (s, b),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A u32 as iproute2's `get_u32(.., 0)` reads it (decimal, `0x` hex, `0` octal).
pub fn get_u32(s: &str) -> Option<u32> {
    strtoul(s, 0).and_then(|v| u32::try_from(v).ok())
}

/// A strict dotted quad, as `ip -j` prints addresses.
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// iproute2's `get_addr_ipv4`: one to four parts separated by dots, each
/// read like C's `strtoul(.., 0)`; missing parts are zero (`10` is 10.0.0.0).
pub fn get_addr_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        let v = strtoul(p, 0)?;
        octets[i] = u8::try_from(v).ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// iproute2's `get_prefix` for IPv4: `default`/`all`/`any` is 0.0.0.0/0, an
/// address without a length is a /32, and the length may be a number or a
/// dotted netmask.
pub fn get_prefix(s: &str) -> Result<(Ipv4Addr, u8), String> {
    if matches!(s, "default" | "all" | "any") {
        return Ok((Ipv4Addr::UNSPECIFIED, 0));
    }
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr = get_addr_ipv4(a).ok_or_else(|| format!("{s:?} is not an IPv4 address"))?;
    let len = match l {
        None => 32,
        Some(l) => match get_u32(l) {
            Some(n) if n <= 32 => n as u8,
            Some(_) => return Err(format!("{s:?}: the prefix length must be 0..32")),
            None => mask_to_len(l)
                .ok_or_else(|| format!("{s:?}: {l:?} is no prefix length or netmask"))?,
        },
    };
    Ok((addr, len))
}

/// A dotted netmask's length, if it is a contiguous mask.
fn mask_to_len(s: &str) -> Option<u8> {
    let m = u32::from(parse_ipv4(s)?);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// A prefix as `ip` prints a route's or rule's destination: `default`, an
/// address for a /32, else `A/LEN`.
pub fn prefix_str(a: Ipv4Addr, len: u8) -> String {
    if len == 0 && a.is_unspecified() {
        "default".into()
    } else if len == 32 {
        a.to_string()
    } else {
        format!("{a}/{len}")
    }
}

/// `rtnl_rttable_n2a`.
pub fn table_n2a(id: u32) -> String {
    match id {
        rt_table::RT_TABLE_LOCAL => "local".into(),
        rt_table::RT_TABLE_MAIN => "main".into(),
        rt_table::RT_TABLE_DEFAULT => "default".into(),
        rt_table::RT_TABLE_UNSPEC => "unspec".into(),
        n => n.to_string(),
    }
}

/// `rtnl_rttable_a2n` with iproute2's shipped table names.
pub fn table_a2n(s: &str) -> Option<u32> {
    match s {
        "local" => Some(rt_table::RT_TABLE_LOCAL),
        "main" => Some(rt_table::RT_TABLE_MAIN),
        "default" => Some(rt_table::RT_TABLE_DEFAULT),
        "unspec" => Some(rt_table::RT_TABLE_UNSPEC),
        s => get_u32(s),
    }
}

/// `rtnl_rtprot_n2a`.
pub fn proto_n2a(p: RtProt) -> String {
    PROTOS
        .iter()
        .find(|(n, _)| *n == p.0)
        .map(|(_, w)| (*w).to_string())
        .unwrap_or_else(|| p.0.to_string())
}

/// `rtnl_rtprot_a2n`.
pub fn proto_a2n(s: &str) -> Option<RtProt> {
    PROTOS
        .iter()
        .find(|(_, w)| *w == s)
        .map(|(n, _)| RtProt(*n))
        .or_else(|| strtoul(s, 0).and_then(|v| u8::try_from(v).ok()).map(RtProt))
}

/// `rtnl_rtscope_n2a`.
pub fn scope_n2a(s: RtScope) -> String {
    s.word()
        .map(str::to_string)
        .unwrap_or_else(|| s.0.to_string())
}

/// `rtnl_rtscope_a2n`.
pub fn scope_a2n(s: &str) -> Option<RtScope> {
    RtScope::from_word(s).or_else(|| {
        strtoul(s, 0)
            .and_then(|v| u8::try_from(v).ok())
            .map(RtScope)
    })
}

/// `rtnl_rtntype_n2a`.
pub fn rtntype_n2a(t: RouteType) -> String {
    t.word()
        .map(str::to_string)
        .unwrap_or_else(|| t.0.to_string())
}

/// `rtnl_rtntype_a2n`: the type words (`brd` too) or a number. `none` is
/// not accepted, as in iproute2.
pub fn rtntype_a2n(s: &str) -> Option<RouteType> {
    if s == "brd" {
        return Some(RouteType::RTN_BROADCAST);
    }
    if s == "none" {
        return None;
    }
    RouteType::from_word(s).or_else(|| {
        strtoul(s, 0)
            .and_then(|v| u8::try_from(v).ok())
            .map(RouteType)
    })
}

/// `rtnl_dsfield_n2a`: the name from `rt_dsfield`, else `0x%02x`.
pub fn dsfield_n2a(v: u8) -> String {
    DSFIELDS
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, w)| (*w).to_string())
        .unwrap_or_else(|| format!("0x{v:02x}"))
}

/// `rtnl_dsfield_a2n`: a name from `rt_dsfield`, else a **hexadecimal**
/// number (`tos 10` is 0x10, as in iproute2).
pub fn dsfield_a2n(s: &str) -> Option<u8> {
    DSFIELDS
        .iter()
        .find(|(_, w)| *w == s)
        .map(|(n, _)| *n)
        .or_else(|| strtoul(s, 16).and_then(|v| u8::try_from(v).ok()))
}

/// `rtnl_group_n2a` with the shipped `group` file (`0 default`).
pub fn group_n2a(g: u32) -> String {
    if g == 0 {
        "default".into()
    } else {
        g.to_string()
    }
}

/// `rtnl_group_a2n`.
pub fn group_a2n(s: &str) -> Option<u32> {
    if s == "default" { Some(0) } else { get_u32(s) }
}

/// `inet_proto_n2a`.
pub fn ipproto_n2a(p: u8) -> String {
    IPPROTOS
        .iter()
        .find(|(n, _)| *n == p)
        .map(|(_, w)| (*w).to_string())
        .unwrap_or_else(|| format!("ipproto-{p}"))
}

/// `inet_proto_a2n`.
pub fn ipproto_a2n(s: &str) -> Option<u8> {
    if let Some((n, _)) = IPPROTOS.iter().find(|(_, w)| *w == s) {
        return Some(*n);
    }
    let s = s.strip_prefix("ipproto-").unwrap_or(s);
    strtoul(s, 0).and_then(|v| u8::try_from(v).ok())
}

/// A MAC address `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        m[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(m)
}

/// A MAC address as `ip` prints it.
pub fn mac_str(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_as_iproute2_does() {
        assert_eq!(get_addr_ipv4("10"), Some(Ipv4Addr::new(10, 0, 0, 0)));
        assert_eq!(get_addr_ipv4("10.1"), Some(Ipv4Addr::new(10, 1, 0, 0)));
        assert_eq!(
            get_addr_ipv4("0x0a.010.0.1"),
            Some(Ipv4Addr::new(10, 8, 0, 1))
        );
        assert_eq!(get_addr_ipv4("256.0.0.1"), None);
        assert_eq!(get_addr_ipv4("1.2.3.4.5"), None);
        assert_eq!(get_addr_ipv4("1..2"), None);
        assert_eq!(get_prefix("default"), Ok((Ipv4Addr::UNSPECIFIED, 0)));
        assert_eq!(get_prefix("10.0.0.1"), Ok((Ipv4Addr::new(10, 0, 0, 1), 32)));
        assert_eq!(get_prefix("10/8"), Ok((Ipv4Addr::new(10, 0, 0, 0), 8)));
        assert_eq!(
            get_prefix("192.168.1.0/255.255.255.0"),
            Ok((Ipv4Addr::new(192, 168, 1, 0), 24))
        );
        assert!(get_prefix("10.0.0.0/33").is_err());
        assert!(get_prefix("10.0.0.0/255.0.255.0").is_err());
        assert!(get_prefix("eth0").is_err());
    }

    #[test]
    fn words_round_trip() {
        assert_eq!(dsfield_a2n("CS1"), Some(0x20));
        assert_eq!(dsfield_a2n("10"), Some(0x10));
        assert_eq!(dsfield_a2n("0x08"), Some(0x08));
        assert_eq!(dsfield_n2a(0x08), "0x08");
        assert_eq!(dsfield_n2a(0xb8), "EF");
        assert_eq!(proto_n2a(RtProt(42)), "babel");
        assert_eq!(proto_n2a(RtProt(77)), "77");
        assert_eq!(proto_a2n("static"), Some(RtProt::RTPROT_STATIC));
        assert_eq!(table_a2n("main"), Some(254));
        assert_eq!(table_n2a(1000), "1000");
        assert_eq!(rtntype_a2n("brd"), Some(RouteType::RTN_BROADCAST));
        assert_eq!(rtntype_a2n("none"), None);
        assert_eq!(scope_a2n("link"), Some(RtScope::RT_SCOPE_LINK));
        assert_eq!(scope_a2n("200"), Some(RtScope::RT_SCOPE_SITE));
        assert_eq!(ipproto_a2n("tcp"), Some(6));
        assert_eq!(ipproto_n2a(253), "ipproto-253");
        assert_eq!(parse_mac("02:00:00:00:00:0a"), Some([2, 0, 0, 0, 0, 10]));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        assert_eq!(mac_str(&[2, 0, 0, 0, 0, 10]), "02:00:00:00:00:0a");
        assert_eq!(prefix_str(Ipv4Addr::new(10, 0, 0, 1), 32), "10.0.0.1");
        assert_eq!(prefix_str(Ipv4Addr::UNSPECIFIED, 0), "default");
    }
}
