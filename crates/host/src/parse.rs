//! iproute2's command syntax for `ip route add`, `ip rule add` and
//! `ip addr add`, read into the model's configuration values with the
//! defaults iproute2 fills in before it talks to the kernel (route type
//! `unicast`, protocol `boot`, the `local` table for local/broadcast/anycast
//! routes, the scope chosen from type and gateway, rule table `main`, ...).
//! What the kernel then accepts or refuses is the model's business.

use std::net::Ipv4Addr;

use fwdsim_kernel::Netns;
use fwdsim_kernel::core::fib_rules::{FibRule, FibRuleAction};
use fwdsim_kernel::ipv4::devinet::{IfaFlags, InIfaddr, prefix_mask};
use fwdsim_kernel::netns::{NexthopSpec, RouteSpec, rt_table};
use fwdsim_kernel::uapi::{RouteType, RtProt, RtScope, RtnhFlags};

use crate::names::{
    dsfield_a2n, get_addr_ipv4, get_prefix, get_u32, group_a2n, ipproto_a2n, proto_a2n,
    rtntype_a2n, scope_a2n, strtoul, table_a2n,
};

/// Words iproute2 accepts in `ip route add` that the model has no place for.
const ROUTE_UNMODELLED: &[&str] = &[
    "as",
    "from",
    "expires",
    "hoplimit",
    "advmss",
    "reordering",
    "rtt",
    "rttvar",
    "window",
    "cwnd",
    "initcwnd",
    "initrwnd",
    "features",
    "quickack",
    "congctl",
    "rto_min",
    "ssthresh",
    "realm",
    "realms",
    "fastopen_no_cookie",
    "ttl-propagate",
    "encap",
    "nhid",
    "pref",
    "vrf",
    "pervasive",
];

/// Reads the next word after keyword `kw`, or says iproute2's complaint.
fn next<'a>(it: &mut std::slice::Iter<'a, &'a str>, kw: &str) -> Result<&'a str, String> {
    it.next()
        .copied()
        .ok_or_else(|| format!("Command line is not complete: {kw:?} needs an argument"))
}

fn invarg(what: &str, arg: &str) -> String {
    format!("argument {arg:?} is wrong: {what}")
}

fn device(ns: &Netns, name: &str) -> Result<fwdsim_kernel::IfIndex, String> {
    ns.dev_by_name(name)
        .map(|d| d.ifindex)
        .ok_or_else(|| format!("Cannot find device {name:?}"))
}

/// Parses the words of `ip route add WORDS` (iproute2 `iproute_modify`):
/// `[TYPE] PREFIX` (or `to PREFIX`, `default`), `via [inet] ADDR`,
/// `dev`/`oif NAME`, `src ADDR`, `table TABLE`, `metric`/`priority`/
/// `preference N`, `tos`/`dsfield TOS` (hex or a `rt_dsfield` name),
/// `scope SCOPE`, `proto`/`protocol PROTO`, `mtu [lock] N`, `onlink`, and
/// last `nexthop [via ADDR] [dev NAME] [weight N] [onlink]` repeated.
/// Device names are resolved in `ns`. iproute2's defaults are filled in:
/// type `unicast`, protocol `boot`, table `local` for local, broadcast, nat
/// and anycast routes (else `main`), and the scope `host` for local and nat,
/// `link` for broadcast, multicast and anycast and for a unicast route with
/// neither gateway nor `nexthop`, else `global`.
pub fn parse_route(words: &str, ns: &Netns) -> Result<RouteSpec, String> {
    let toks: Vec<&str> = words.split_whitespace().collect();
    let mut it = toks.iter();
    let mut spec = RouteSpec::new(RouteType::RTN_UNICAST, Ipv4Addr::UNSPECIFIED, 0);
    spec.protocol = RtProt::RTPROT_BOOT;
    let mut dst: Option<(Ipv4Addr, u8)> = None;
    let mut table: Option<u32> = None;
    let mut scope: Option<RtScope> = None;
    let mut gw: Option<Ipv4Addr> = None;
    let mut dev = None;
    let mut onlink = false;
    let mut nexthops: Option<Vec<NexthopSpec>> = None;
    while let Some(&w) = it.next() {
        match w {
            "src" => {
                let a = next(&mut it, w)?;
                spec.prefsrc = Some(
                    get_addr_ipv4(a).ok_or_else(|| invarg("\"src\" is not an IPv4 address", a))?,
                );
            }
            "via" => {
                let mut a = next(&mut it, w)?;
                if a == "inet" {
                    a = next(&mut it, w)?;
                } else if a == "inet6" {
                    return Err("\"via inet6\" gateways are not modelled".into());
                }
                if gw.is_some() {
                    return Err("Either \"via\" is duplicate, or it is a garbage.".into());
                }
                gw = Some(
                    get_addr_ipv4(a).ok_or_else(|| invarg("\"via\" is not an IPv4 address", a))?,
                );
            }
            "tos" | "dsfield" => {
                let a = next(&mut it, w)?;
                spec.tos = dsfield_a2n(a).ok_or_else(|| invarg("\"tos\" value is invalid", a))?;
            }
            "metric" | "priority" | "preference" => {
                let a = next(&mut it, w)?;
                spec.priority =
                    get_u32(a).ok_or_else(|| invarg("\"metric\" value is invalid", a))?;
            }
            "mtu" => {
                let mut a = next(&mut it, w)?;
                if a == "lock" {
                    spec.mtu_locked = true;
                    a = next(&mut it, w)?;
                }
                spec.mtu = get_u32(a).ok_or_else(|| invarg("\"mtu\" value is invalid", a))?;
            }
            "onlink" => onlink = true,
            "nexthop" => {
                nexthops = Some(parse_nexthops(&toks[toks.len() - it.len() - 1..], ns)?);
                break;
            }
            "protocol" | "proto" => {
                let a = next(&mut it, w)?;
                spec.protocol =
                    proto_a2n(a).ok_or_else(|| invarg("\"protocol\" value is invalid", a))?;
            }
            "table" => {
                let a = next(&mut it, w)?;
                table = Some(table_a2n(a).ok_or_else(|| invarg("\"table\" value is invalid", a))?);
            }
            "dev" | "oif" => {
                let a = next(&mut it, w)?;
                dev = Some(device(ns, a)?);
            }
            "scope" => {
                let a = next(&mut it, w)?;
                scope = Some(scope_a2n(a).ok_or_else(|| invarg("invalid \"scope\" value", a))?);
            }
            w if ROUTE_UNMODELLED.contains(&w) => {
                return Err(format!("{w:?} is not modelled by fwdsim"));
            }
            _ => {
                let mut a = w;
                if a == "to" {
                    a = next(&mut it, w)?;
                }
                if !a.starts_with(|c: char| c.is_ascii_digit())
                    && let Some(t) = rtntype_a2n(a)
                {
                    spec.rt_type = t;
                    a = next(&mut it, a)?;
                }
                if dst.is_some() {
                    return Err(format!(
                        "Either \"to\" is duplicate, or {a:?} is a garbage."
                    ));
                }
                dst = Some(get_prefix(a)?);
            }
        }
    }
    let (d, l) = dst.ok_or("need at least a destination address")?;
    spec.dst = d;
    spec.dst_len = l;
    spec.table = table.unwrap_or(match spec.rt_type {
        RouteType::RTN_LOCAL
        | RouteType::RTN_BROADCAST
        | RouteType::RTN_NAT
        | RouteType::RTN_ANYCAST => rt_table::RT_TABLE_LOCAL,
        _ => rt_table::RT_TABLE_MAIN,
    });
    let nhs_ok = nexthops.is_some();
    spec.scope = Some(scope.unwrap_or(match spec.rt_type {
        RouteType::RTN_LOCAL | RouteType::RTN_NAT => RtScope::RT_SCOPE_HOST,
        RouteType::RTN_BROADCAST | RouteType::RTN_MULTICAST | RouteType::RTN_ANYCAST => {
            RtScope::RT_SCOPE_LINK
        }
        RouteType::RTN_UNICAST | RouteType::RTN_UNSPEC if gw.is_none() && !nhs_ok => {
            RtScope::RT_SCOPE_LINK
        }
        _ => RtScope::RT_SCOPE_UNIVERSE,
    }));
    if let Some(nhs) = nexthops {
        if gw.is_some() || dev.is_some() {
            // iproute2 sends both; the kernel checks that they agree with the
            // first next hop. Keep it simple: say so.
            return Err(
                "give \"via\"/\"dev\" either before or inside \"nexthop\", not both".into(),
            );
        }
        spec.nexthops = nhs;
    } else if gw.is_some() || dev.is_some() || onlink {
        spec.nexthops.push(NexthopSpec {
            gw: gw.filter(|g| !g.is_unspecified()),
            dev,
            weight: 1,
            flags: if onlink {
                RtnhFlags::RTNH_F_ONLINK
            } else {
                RtnhFlags(0)
            },
        });
    }
    Ok(spec)
}

/// `parse_nexthops`: every remaining word belongs to `nexthop` clauses.
fn parse_nexthops(toks: &[&str], ns: &Netns) -> Result<Vec<NexthopSpec>, String> {
    let mut out = Vec::new();
    let mut it = toks.iter().peekable();
    while let Some(&w) = it.next() {
        if w != "nexthop" {
            return Err(format!(
                "\"nexthop\" or end of line is expected instead of {w:?}"
            ));
        }
        let mut nh = NexthopSpec {
            gw: None,
            dev: None,
            weight: 1,
            flags: RtnhFlags(0),
        };
        while let Some(&&k) = it.peek() {
            if k == "nexthop" {
                break;
            }
            it.next();
            let mut arg = || {
                it.next()
                    .copied()
                    .ok_or_else(|| format!("Command line is not complete: {k:?} needs an argument"))
            };
            match k {
                "via" => {
                    let mut a = arg()?;
                    if a == "inet" {
                        a = arg()?;
                    }
                    nh.gw = Some(
                        get_addr_ipv4(a)
                            .ok_or_else(|| invarg("\"via\" is not an IPv4 address", a))?,
                    )
                    .filter(|g| !g.is_unspecified());
                }
                "dev" => {
                    let a = arg()?;
                    nh.dev = Some(device(ns, a)?);
                }
                "weight" => {
                    let a = arg()?;
                    nh.weight = match get_u32(a) {
                        Some(w) if (1..=256).contains(&w) => w,
                        _ => return Err(invarg("\"weight\" is invalid", a)),
                    };
                }
                "onlink" => nh.flags = RtnhFlags::RTNH_F_ONLINK,
                "realms" | "encap" | "as" => {
                    return Err(format!("{k:?} is not modelled by fwdsim"));
                }
                _ => {
                    return Err(format!(
                        "\"nexthop\" or end of line is expected instead of {k:?}"
                    ));
                }
            }
        }
        out.push(nh);
    }
    Ok(out)
}

/// A port or a range `A-B` of `sport`/`dport`.
fn port_range(a: &str) -> Option<(u16, u16)> {
    let (lo, hi) = match a.split_once('-') {
        Some((l, h)) => (l, h),
        None => (a, a),
    };
    let lo = u16::try_from(strtoul(lo, 0)?).ok()?;
    let hi = u16::try_from(strtoul(hi, 0)?).ok()?;
    Some((lo, hi))
}

/// Parses the words of `ip rule add WORDS` (iproute2 `iprule_modify`):
/// `not`, `from PREFIX`, `to PREFIX`, `pref`/`preference`/`priority`/`order N`,
/// `tos`/`dsfield TOS`, `dscp N`, `fwmark V[/M]`, `iif`/`dev NAME`,
/// `oif NAME`, `l3mdev`, `uidrange A-B`, `ipproto P`, `sport`/`dport P[-Q]`,
/// `lookup`/`table TABLE`, `suppress_prefixlength N`, `suppress_ifgroup G`,
/// `protocol P`, and the action `goto N`, `nop`, `blackhole`,
/// `unreachable`, `prohibit` (optionally after `type`). Without an action
/// or table the rule looks up `main`. Returns the rule and its `pref`, if
/// given (the kernel picks one otherwise).
pub fn parse_rule(words: &str) -> Result<(FibRule, Option<u32>), String> {
    let toks: Vec<&str> = words.split_whitespace().collect();
    if toks.is_empty() {
        return Err("\"ip rule add\" requires arguments.".into());
    }
    let mut it = toks.iter();
    let mut r = FibRule::lookup(0, 0);
    r.protocol = RtProt::RTPROT_UNSPEC;
    let mut pref = None;
    let mut table_ok = false;
    let mut mark: Option<(u32, Option<u32>)> = None;
    while let Some(&w) = it.next() {
        match w {
            "not" => r.invert = true,
            "from" | "to" => {
                let a = next(&mut it, w)?;
                let (addr, len) = get_prefix(a)?;
                let v = (len != 0).then_some((addr, len));
                if w == "from" {
                    r.src = v;
                } else {
                    r.dst = v;
                }
            }
            "pref" | "preference" | "prio" | "priority" | "order" => {
                let a = next(&mut it, w)?;
                pref = Some(get_u32(a).ok_or_else(|| invarg("preference value is invalid", a))?);
            }
            "tos" | "dsfield" => {
                let a = next(&mut it, w)?;
                r.tos = dsfield_a2n(a).ok_or_else(|| invarg("TOS value is invalid", a))?;
            }
            "dscp" => {
                let a = next(&mut it, w)?;
                r.dscp = Some(match get_u32(a) {
                    Some(v) if v < 64 => v as u8,
                    _ => return Err(invarg("invalid dscp", a)),
                });
            }
            "fwmark" => {
                let a = next(&mut it, w)?;
                let (v, m) = match a.split_once('/') {
                    Some((v, m)) => (v, Some(m)),
                    None => (a, None),
                };
                let v = get_u32(v).ok_or_else(|| invarg("fwmark value is invalid", a))?;
                let m = match m {
                    Some(m) => {
                        Some(get_u32(m).ok_or_else(|| invarg("fwmask value is invalid", a))?)
                    }
                    None => None,
                };
                mark = Some((v, m));
            }
            "protocol" | "proto" => {
                let a = next(&mut it, w)?;
                r.protocol =
                    proto_a2n(a).ok_or_else(|| invarg("\"protocol\" value is invalid", a))?;
            }
            "table" | "lookup" => {
                let a = next(&mut it, w)?;
                r.table = table_a2n(a).ok_or_else(|| invarg("invalid table ID", a))?;
                table_ok = true;
            }
            "suppress_prefixlength" | "sup_pl" => {
                let a = next(&mut it, w)?;
                r.suppress_prefixlen = match a.parse::<i32>() {
                    Ok(v) if v >= 0 => v,
                    _ => return Err(invarg("suppress_prefixlength value is invalid", a)),
                };
            }
            "suppress_ifgroup" | "sup_group" => {
                let a = next(&mut it, w)?;
                r.suppress_ifgroup = group_a2n(a)
                    .and_then(|g| i32::try_from(g).ok())
                    .ok_or_else(|| invarg("Invalid \"suppress_ifgroup\" value", a))?;
            }
            "dev" | "iif" => r.iifname = Some(next(&mut it, w)?.to_string()),
            "oif" => r.oifname = Some(next(&mut it, w)?.to_string()),
            "l3mdev" => {
                r.l3mdev = true;
                table_ok = true;
            }
            "uidrange" => {
                let a = next(&mut it, w)?;
                let (lo, hi) = a
                    .split_once('-')
                    .ok_or_else(|| invarg("invalid UID range", a))?;
                let lo = get_u32(lo).ok_or_else(|| invarg("invalid UID range", a))?;
                let hi = get_u32(hi).ok_or_else(|| invarg("invalid UID range", a))?;
                r.uid_range = Some((lo, hi));
            }
            "sport" | "dport" => {
                let a = next(&mut it, w)?;
                let p = port_range(a).ok_or_else(|| invarg("invalid port range", a))?;
                if w == "sport" {
                    r.sport = Some(p);
                } else {
                    r.dport = Some(p);
                }
            }
            "ipproto" => {
                let a = next(&mut it, w)?;
                r.ip_proto =
                    ipproto_a2n(a).ok_or_else(|| invarg("Invalid \"ipproto\" value", a))?;
            }
            "realms" | "realm" | "tun_id" | "nat" | "map-to" | "flowlabel" => {
                return Err(format!("{w:?} is not modelled by fwdsim"));
            }
            _ => {
                let mut a = w;
                if a == "type" {
                    a = next(&mut it, w)?;
                }
                r.action = match a {
                    "goto" => {
                        let t = next(&mut it, a)?;
                        r.target = get_u32(t).ok_or_else(|| invarg("invalid target", t))?;
                        FibRuleAction::FR_ACT_GOTO
                    }
                    "nop" => FibRuleAction::FR_ACT_NOP,
                    _ => match rtntype_a2n(a) {
                        Some(RouteType::RTN_UNICAST) => FibRuleAction::FR_ACT_TO_TBL,
                        Some(RouteType::RTN_BLACKHOLE) => FibRuleAction::FR_ACT_BLACKHOLE,
                        Some(RouteType::RTN_UNREACHABLE) => FibRuleAction::FR_ACT_UNREACHABLE,
                        Some(RouteType::RTN_PROHIBIT) => FibRuleAction::FR_ACT_PROHIBIT,
                        _ => return Err(invarg("Failed to parse rule type", a)),
                    },
                };
                table_ok = true;
            }
        }
    }
    if let Some((v, m)) = mark {
        // fib_nl2rule: a non-zero mark without a mask compares every bit.
        r.mark = v;
        r.mark_mask = m.unwrap_or(if v != 0 { u32::MAX } else { 0 });
    }
    if !table_ok {
        r.table = rt_table::RT_TABLE_MAIN;
    }
    Ok((r, pref))
}

/// Parses one address of a TOML host, as the words of
/// `ip addr add WORDS dev DEV` (iproute2 `ipaddr_modify`):
/// `ADDR[/LEN]` (default /32), `brd`/`broadcast ADDR|+|-` (default `+`,
/// which sets the subnet broadcast for prefixes up to /30; `-` sets the
/// network address, as iproute2 does), `scope SCOPE` (default `host` for
/// 127.0.0.0/8, else `global`), `label LABEL` (`DEV` or `DEV:...`),
/// `metric`/`priority N` (the prefix route's metric) and `noprefixroute`.
pub fn parse_address(words: &str, dev: &str) -> Result<InIfaddr, String> {
    let toks: Vec<&str> = words.split_whitespace().collect();
    let mut it = toks.iter();
    let mut local: Option<(Ipv4Addr, u8)> = None;
    let mut brd: Option<&str> = None;
    let mut scope = None;
    let mut label = None;
    let mut metric = 0;
    let mut flags = IfaFlags::IFA_F_PERMANENT;
    while let Some(&w) = it.next() {
        match w {
            "brd" | "broadcast" => brd = Some(next(&mut it, w)?),
            "scope" => {
                let a = next(&mut it, w)?;
                scope = Some(scope_a2n(a).ok_or_else(|| invarg("invalid scope value", a))?);
            }
            "label" => label = Some(next(&mut it, w)?.to_string()),
            "metric" | "priority" | "preference" => {
                let a = next(&mut it, w)?;
                metric = get_u32(a).ok_or_else(|| invarg("\"metric\" value is invalid", a))?;
            }
            "noprefixroute" => flags.0 |= IfaFlags::IFA_F_NOPREFIXROUTE.0,
            "peer" | "remote" | "anycast" | "valid_lft" | "preferred_lft" | "home" | "nodad"
            | "mngtmpaddr" | "autojoin" | "optimistic" => {
                return Err(format!("{w:?} is not modelled by fwdsim"));
            }
            _ => {
                let a = if w == "local" { next(&mut it, w)? } else { w };
                if local.is_some() {
                    return Err(format!(
                        "Either \"local\" is duplicate, or {a:?} is a garbage."
                    ));
                }
                local = Some(get_prefix(a)?);
            }
        }
    }
    let (addr, len) = local.ok_or("an address needs `ADDR[/LEN]`")?;
    if let Some(l) = &label
        && !(l == dev || l.starts_with(&format!("{dev}:")))
    {
        return Err(format!(
            "\"label\" ({l}) must match \"dev\" ({dev}) or be prefixed by \"dev\" with a colon."
        ));
    }
    let subnet_brd = |host_bits: bool| -> Ipv4Addr {
        let m = prefix_mask(len);
        if host_bits {
            Ipv4Addr::from(u32::from(addr) | !m)
        } else {
            Ipv4Addr::from(u32::from(addr) & m)
        }
    };
    let broadcast = match brd.unwrap_or("+") {
        "+" if len <= 30 => subnet_brd(true),
        "-" if len <= 30 => subnet_brd(false),
        "+" | "-" => Ipv4Addr::UNSPECIFIED,
        b => get_addr_ipv4(b).ok_or_else(|| invarg("\"broadcast\" is not an IPv4 address", b))?,
    };
    let scope = scope.unwrap_or(if addr.octets()[0] == 127 {
        RtScope::RT_SCOPE_HOST
    } else {
        RtScope::RT_SCOPE_UNIVERSE
    });
    Ok(InIfaddr {
        ifa_local: addr,
        ifa_address: addr,
        ifa_prefixlen: len,
        ifa_broadcast: broadcast,
        ifa_scope: scope,
        ifa_flags: flags,
        ifa_label: label.filter(|l| l != dev),
        ifa_rt_priority: metric,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwdsim_kernel::netns::NetDevice;
    use fwdsim_kernel::uapi::{DevFlags, LinkType};

    fn ns() -> Netns {
        let mut ns = Netns::with_loopback();
        for (i, n) in ["eth0", "eth1"].iter().enumerate() {
            ns.register_netdev(NetDevice {
                name: (*n).into(),
                ifindex: fwdsim_kernel::IfIndex(2 + i as u32),
                flags: DevFlags(DevFlags::IFF_UP.0 | DevFlags::IFF_BROADCAST.0),
                mtu: 1500,
                dev_addr: [2, 0, 0, 0, 0, 2 + i as u8],
                broadcast: [0xff; 6],
                link_type: LinkType::Ether,
                group: 0,
                carrier: true,
                ip_ptr: None,
                kind: Default::default(),
                master: None,
                brport: None,
            })
            .unwrap();
        }
        ns
    }

    #[test]
    fn route_forms() {
        let ns = ns();
        let r = parse_route("default via 10.0.2.2 dev eth0", &ns).unwrap();
        assert_eq!((r.dst, r.dst_len, r.table), (Ipv4Addr::UNSPECIFIED, 0, 254));
        assert_eq!(r.rt_type, RouteType::RTN_UNICAST);
        assert_eq!(r.scope, Some(RtScope::RT_SCOPE_UNIVERSE));
        assert_eq!(r.protocol, RtProt::RTPROT_BOOT);
        assert_eq!(r.nexthops.len(), 1);
        assert_eq!(r.nexthops[0].gw, Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(r.nexthops[0].dev, Some(fwdsim_kernel::IfIndex(2)));

        let r = parse_route("10.1.0.0/16 dev eth1", &ns).unwrap();
        assert_eq!(r.scope, Some(RtScope::RT_SCOPE_LINK));
        assert_eq!(r.nexthops[0].gw, None);

        let r = parse_route("to 10.1.0.0/16 via 10.0.0.1", &ns).unwrap();
        assert_eq!(r.nexthops[0].dev, None);
        assert_eq!(r.dst_len, 16);

        let r = parse_route("blackhole 192.0.2.0/26", &ns).unwrap();
        assert_eq!(r.rt_type, RouteType::RTN_BLACKHOLE);
        assert!(r.nexthops.is_empty());
        assert_eq!(r.scope, Some(RtScope::RT_SCOPE_UNIVERSE));
        for (w, t) in [
            ("unreachable", RouteType::RTN_UNREACHABLE),
            ("prohibit", RouteType::RTN_PROHIBIT),
            ("throw", RouteType::RTN_THROW),
        ] {
            let r = parse_route(&format!("{w} 192.0.2.0/26 table 100 metric 5"), &ns).unwrap();
            assert_eq!((r.rt_type, r.table, r.priority), (t, 100, 5));
        }

        let r = parse_route("local 198.51.100.7 dev eth0", &ns).unwrap();
        assert_eq!((r.table, r.scope), (255, Some(RtScope::RT_SCOPE_HOST)));
        assert_eq!(r.dst_len, 32);
        let r = parse_route("broadcast 10.0.0.255 dev eth0", &ns).unwrap();
        assert_eq!((r.table, r.scope), (255, Some(RtScope::RT_SCOPE_LINK)));
        let r = parse_route("multicast 224.1.0.0/16 dev eth0", &ns).unwrap();
        assert_eq!((r.table, r.scope), (254, Some(RtScope::RT_SCOPE_LINK)));
        let r = parse_route("brd 10.0.0.255 dev eth0 table main", &ns).unwrap();
        assert_eq!(r.table, 254);

        let r = parse_route(
            "172.16.0.0/12 via 10.0.0.1 dev eth0 proto static metric 100 src 10.0.0.2 tos 0x10 mtu lock 1400 scope global table 1000",
            &ns,
        )
        .unwrap();
        assert_eq!(r.protocol, RtProt::RTPROT_STATIC);
        assert_eq!(r.priority, 100);
        assert_eq!(r.prefsrc, Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(r.tos, 0x10);
        assert_eq!((r.mtu, r.mtu_locked), (1400, true));
        assert_eq!(r.table, 1000);
        let r = parse_route(
            "172.18.0.0/16 dsfield CS1 via 10.0.0.1 proto 42 priority 7",
            &ns,
        )
        .unwrap();
        assert_eq!((r.tos, r.protocol.0, r.priority), (0x20, 42, 7));
        let r = parse_route("10.0.0.0/8 tos 10 dev eth0", &ns).unwrap();
        assert_eq!(r.tos, 0x10, "iproute2 reads tos in hex");

        let r = parse_route("172.21.0.0/16 via 192.168.99.1 dev eth0 onlink", &ns).unwrap();
        assert_eq!(r.nexthops[0].flags, RtnhFlags::RTNH_F_ONLINK);

        let r = parse_route(
            "172.22.0.0/16 proto bgp nexthop via 10.0.0.1 dev eth0 weight 2 nexthop via 10.1.0.1 dev eth1 onlink nexthop dev eth1",
            &ns,
        )
        .unwrap();
        assert_eq!(r.scope, Some(RtScope::RT_SCOPE_UNIVERSE));
        assert_eq!(r.protocol, RtProt::RTPROT_BGP);
        assert_eq!(r.nexthops.len(), 3);
        assert_eq!(r.nexthops[0].weight, 2);
        assert_eq!(r.nexthops[1].flags, RtnhFlags::RTNH_F_ONLINK);
        assert_eq!(r.nexthops[2].gw, None);

        let r = parse_route("10.9.0.0/24 via 0.0.0.0 dev eth0", &ns).unwrap();
        assert_eq!(r.nexthops[0].gw, None);
    }

    #[test]
    fn route_errors() {
        let ns = ns();
        for (w, want) in [
            ("10.0.0.0/8 dev eth9", "Cannot find device \"eth9\""),
            ("dev eth0", "need at least a destination address"),
            ("10.0.0.0/8 10.1.0.0/16", "Either \"to\" is duplicate"),
            ("10.0.0.0/8 via", "Command line is not complete"),
            (
                "10.0.0.0/8 via 10.0.0.1 via 10.0.0.2",
                "\"via\" is duplicate",
            ),
            ("10.0.0.0/40 dev eth0", "prefix length"),
            (
                "10.0.0.0/8 nexthop via 10.0.0.1 weight 0",
                "\"weight\" is invalid",
            ),
            (
                "10.0.0.0/8 nexthop via 10.0.0.1 metric 5",
                "\"nexthop\" or end of line",
            ),
            ("10.0.0.0/8 dev eth0 realm 5", "not modelled"),
            ("10.0.0.0/8 dev eth0 tos 0x100", "\"tos\" value is invalid"),
            (
                "10.0.0.0/8 dev eth0 table nosuch",
                "\"table\" value is invalid",
            ),
            ("frob 10.0.0.0/8", "is not an IPv4 address"),
        ] {
            let e = parse_route(w, &ns).unwrap_err();
            assert!(e.contains(want), "{w}: {e}");
        }
    }

    #[test]
    fn rule_forms() {
        let (r, p) = parse_rule("from 10.0.1.0/24 lookup 100 pref 100").unwrap();
        assert_eq!(p, Some(100));
        assert_eq!(r.src, Some((Ipv4Addr::new(10, 0, 1, 0), 24)));
        assert_eq!((r.action, r.table), (FibRuleAction::FR_ACT_TO_TBL, 100));
        assert_eq!(r.protocol, RtProt::RTPROT_UNSPEC);

        let (r, p) = parse_rule("to 192.0.2.0/24").unwrap();
        assert_eq!((p, r.table), (None, 254));
        assert_eq!(r.dst, Some((Ipv4Addr::new(192, 0, 2, 0), 24)));

        let (r, _) = parse_rule("not from 10.0.0.0/8 iif e1 table main priority 300").unwrap();
        assert!(r.invert);
        assert_eq!(r.iifname.as_deref(), Some("e1"));

        let (r, _) = parse_rule("fwmark 0x7 oif e2 lookup 100").unwrap();
        assert_eq!((r.mark, r.mark_mask), (7, u32::MAX));
        assert_eq!(r.oifname.as_deref(), Some("e2"));
        let (r, _) = parse_rule("fwmark 0x7/0xff tos 0x10 lookup 100").unwrap();
        assert_eq!((r.mark, r.mark_mask, r.tos), (7, 0xff, 0x10));
        let (r, _) = parse_rule("fwmark 0 lookup 100").unwrap();
        assert_eq!((r.mark, r.mark_mask), (0, 0));

        let (r, p) = parse_rule("pref 500 goto 600").unwrap();
        assert_eq!(
            (r.action, r.target, p),
            (FibRuleAction::FR_ACT_GOTO, 600, Some(500))
        );
        assert_eq!(
            parse_rule("nop").unwrap().0.action,
            FibRuleAction::FR_ACT_NOP
        );
        for (w, a) in [
            ("blackhole", FibRuleAction::FR_ACT_BLACKHOLE),
            ("type unreachable", FibRuleAction::FR_ACT_UNREACHABLE),
            ("prohibit", FibRuleAction::FR_ACT_PROHIBIT),
        ] {
            let (r, _) = parse_rule(&format!("from 10.0.0.0/8 {w}")).unwrap();
            assert_eq!((r.action, r.table), (a, 0));
        }
        let (r, _) = parse_rule("lookup main suppress_prefixlength 0").unwrap();
        assert_eq!(r.suppress_prefixlen, 0);
        let (r, _) = parse_rule("lookup main suppress_ifgroup 5").unwrap();
        assert_eq!(r.suppress_ifgroup, 5);
        let (r, _) = parse_rule("uidrange 100-200 lookup 100").unwrap();
        assert_eq!(r.uid_range, Some((100, 200)));
        let (r, _) = parse_rule("ipproto tcp dport 80 sport 1000-2000 lookup 100").unwrap();
        assert_eq!(
            (r.ip_proto, r.dport, r.sport),
            (6, Some((80, 80)), Some((1000, 2000)))
        );
        let (r, _) = parse_rule("l3mdev pref 1000").unwrap();
        assert!(r.l3mdev);
        assert_eq!(r.table, 0);
        let (r, _) =
            parse_rule("from all to 10.2.0.0/16 lookup 1000 protocol static dsfield CS1").unwrap();
        assert_eq!(r.src, None);
        assert_eq!(r.protocol, RtProt::RTPROT_STATIC);
        assert_eq!(r.tos, 0x20);
        let (r, _) = parse_rule("dscp 10 lookup 7").unwrap();
        assert_eq!(r.dscp, Some(10));
    }

    #[test]
    fn rule_errors() {
        for (w, want) in [
            ("", "requires arguments"),
            ("pref x lookup 1", "preference value is invalid"),
            ("fwmark zz", "fwmark value is invalid"),
            ("fwmark 1/zz", "fwmask value is invalid"),
            ("lookup nosuch", "invalid table ID"),
            ("frobnicate", "Failed to parse rule type"),
            ("goto", "Command line is not complete"),
            ("uidrange 5", "invalid UID range"),
            ("realms 3 lookup 1", "not modelled"),
            (
                "suppress_prefixlength -1 lookup main",
                "suppress_prefixlength value is invalid",
            ),
        ] {
            let e = parse_rule(w).unwrap_err();
            assert!(e.contains(want), "{w}: {e}");
        }
    }

    #[test]
    fn address_forms() {
        let a = parse_address("10.0.0.1/24", "eth0").unwrap();
        assert_eq!(a.ifa_broadcast, Ipv4Addr::new(10, 0, 0, 255));
        assert_eq!(a.ifa_scope, RtScope::RT_SCOPE_UNIVERSE);
        assert_eq!(a.ifa_label, None);
        let a = parse_address(
            "10.0.0.1/24 brd 10.0.0.77 scope link label eth0:x metric 9",
            "eth0",
        )
        .unwrap();
        assert_eq!(a.ifa_broadcast, Ipv4Addr::new(10, 0, 0, 77));
        assert_eq!(a.ifa_scope, RtScope::RT_SCOPE_LINK);
        assert_eq!(a.ifa_label.as_deref(), Some("eth0:x"));
        assert_eq!(a.ifa_rt_priority, 9);
        let a = parse_address("10.0.0.1/24 brd -", "eth0").unwrap();
        assert_eq!(a.ifa_broadcast, Ipv4Addr::new(10, 0, 0, 0));
        let a = parse_address("10.1.0.0/31", "eth0").unwrap();
        assert_eq!(a.ifa_broadcast, Ipv4Addr::UNSPECIFIED);
        let a = parse_address("192.0.2.7", "eth0").unwrap();
        assert_eq!(
            (a.ifa_prefixlen, a.ifa_broadcast),
            (32, Ipv4Addr::UNSPECIFIED)
        );
        let a = parse_address("127.0.0.2/8", "lo").unwrap();
        assert_eq!(a.ifa_scope, RtScope::RT_SCOPE_HOST);
        let a = parse_address("10.0.0.1/24 noprefixroute", "eth0").unwrap();
        assert!(a.ifa_flags.contains(IfaFlags::IFA_F_NOPREFIXROUTE));
        assert!(
            parse_address("10.0.0.1/24 label wlan0", "eth0")
                .unwrap_err()
                .contains("must match")
        );
        assert!(parse_address("10.0.0.300/24", "eth0").is_err());
        assert!(parse_address("brd +", "eth0").is_err());
        assert!(
            parse_address("10.0.0.1/24 peer 10.0.0.2", "eth0")
                .unwrap_err()
                .contains("not modelled")
        );
    }
}
