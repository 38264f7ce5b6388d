//! A host description shared by both sides of the differential tests.
//!
//! [`HostSpec`] is what `docs/host-format.md` describes: interfaces with
//! addresses, sysctls in order, and routes/rules as iproute2 strings. It
//! renders to that TOML ([`HostSpec::to_toml`]), reads it back
//! ([`HostSpec::from_toml`]), and [`crate::build::LabHost`] builds the same
//! host in a network namespace with the equivalent commands, in the same order.
//!
//! The parsed views ([`HostSpec::address_infos`], [`HostSpec::route_infos`],
//! [`HostSpec::rule_infos`]) read the strings back only as far as the query
//! generator and the comparison need; they never decide routing.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::{LabError, Result};

/// One network interface of a host: a veth whose peer lives in a helper
/// namespace (see [`crate::build`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceSpec {
    /// Device name (at most 15 bytes).
    pub name: String,
    /// Address strings, each `A/LEN` optionally followed by iproute2 words
    /// (`brd X`, `scope link`), added in order with `ip addr add`.
    pub addresses: Vec<String>,
    /// MAC address; `None` means the format's default `02:00:00:00:00:<ifindex>`.
    pub mac: Option<String>,
    /// MTU; `None` means 1500.
    pub mtu: Option<u32>,
    /// Administrative state (`state = "up"` / `"down"`).
    pub up: bool,
    /// Carrier (`carrier = false` is NO-CARRIER: the veth peer is down).
    pub carrier: bool,
    /// `net.ipv4.conf.<name>.<key>` values, applied in order after `[sysctl]`.
    pub sysctl: Vec<(String, String)>,
}

impl InterfaceSpec {
    /// An interface that is up, has carrier and nothing else.
    pub fn new(name: &str) -> Self {
        InterfaceSpec {
            name: name.to_string(),
            addresses: Vec::new(),
            mac: None,
            mtu: None,
            up: true,
            carrier: true,
            sysctl: Vec::new(),
        }
    }
}

/// A whole host in the TOML host format (docs/host-format.md).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSpec {
    /// Free text written as a comment at the top of the TOML (e.g. the seed).
    pub title: String,
    /// Interfaces in file order (ifindex 2, 3, ... after `lo`).
    pub interfaces: Vec<InterfaceSpec>,
    /// The `[sysctl]` table in file order (full key names).
    pub sysctl: Vec<(String, String)>,
    /// `ip route add` arguments, in order.
    pub routes: Vec<String>,
    /// `ip rule add` arguments, in order.
    pub rules: Vec<String>,
}

/// Escapes `s` as a TOML basic string (with the quotes).
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A sysctl value as TOML: an integer when it is one, else a string.
fn toml_value(v: &str) -> String {
    match v.parse::<i64>() {
        Ok(n) => n.to_string(),
        Err(_) => toml_string(v),
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        toml_string(k)
    }
}

fn string_array(items: &[String]) -> String {
    if items.is_empty() {
        return "[]".to_string();
    }
    let mut s = String::from("[\n");
    for it in items {
        let _ = writeln!(s, "  {},", toml_string(it));
    }
    s.push(']');
    s
}

impl HostSpec {
    /// Renders the host as TOML in the format of docs/host-format.md.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        for line in self.title.lines() {
            let _ = writeln!(s, "# {line}");
        }
        let _ = writeln!(s, "routes = {}", string_array(&self.routes));
        let _ = writeln!(s, "rules = {}", string_array(&self.rules));
        if !self.sysctl.is_empty() {
            s.push_str("\n[sysctl]\n");
            for (k, v) in &self.sysctl {
                let _ = writeln!(s, "{} = {}", toml_string(k), toml_value(v));
            }
        }
        for ifc in &self.interfaces {
            s.push_str("\n[[interface]]\n");
            let _ = writeln!(s, "name = {}", toml_string(&ifc.name));
            let addrs: Vec<String> = ifc.addresses.iter().map(|a| toml_string(a)).collect();
            let _ = writeln!(s, "addresses = [{}]", addrs.join(", "));
            if let Some(mac) = &ifc.mac {
                let _ = writeln!(s, "mac = {}", toml_string(mac));
            }
            if let Some(mtu) = ifc.mtu {
                let _ = writeln!(s, "mtu = {mtu}");
            }
            if !ifc.up {
                s.push_str("state = \"down\"\n");
            }
            if !ifc.carrier {
                s.push_str("carrier = false\n");
            }
            if !ifc.sysctl.is_empty() {
                let kv: Vec<String> = ifc
                    .sysctl
                    .iter()
                    .map(|(k, v)| format!("{} = {}", toml_key(k), toml_value(v)))
                    .collect();
                let _ = writeln!(s, "sysctl = {{ {} }}", kv.join(", "));
            }
        }
        s
    }

    /// Reads a host TOML file's text (docs/host-format.md), keeping the order
    /// of `[sysctl]` and of each interface's `sysctl` table.
    pub fn from_toml(text: &str) -> Result<HostSpec> {
        let perr = |msg: String| LabError::Parse {
            what: "host TOML".to_string(),
            msg,
        };
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e| perr(format!("{e}")))?;
        let mut spec = HostSpec::default();
        let strings = |item: Option<&toml_edit::Item>, what: &str| -> Result<Vec<String>> {
            let Some(item) = item else {
                return Ok(Vec::new());
            };
            let arr = item
                .as_array()
                .ok_or_else(|| perr(format!("`{what}` is not an array")))?;
            arr.iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| perr(format!("`{what}` holds a non-string")))
                })
                .collect()
        };
        spec.routes = strings(doc.get("routes"), "routes")?;
        spec.rules = strings(doc.get("rules"), "rules")?;
        if let Some(item) = doc.get("sysctl") {
            let t = item
                .as_table_like()
                .ok_or_else(|| perr("`sysctl` is not a table".into()))?;
            for (k, v) in t.iter() {
                spec.sysctl
                    .push((k.to_string(), item_scalar(v).map_err(perr)?));
            }
        }
        if let Some(item) = doc.get("interface") {
            let arr = item
                .as_array_of_tables()
                .ok_or_else(|| perr("`interface` is not an array of tables".into()))?;
            for t in arr.iter() {
                let name = t
                    .get("name")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| perr("an [[interface]] has no name".into()))?;
                let mut ifc = InterfaceSpec::new(name);
                ifc.addresses = strings(t.get("addresses"), "addresses")?;
                ifc.mac = t.get("mac").and_then(|v| v.as_str()).map(str::to_string);
                if let Some(m) = t.get("mtu") {
                    let m = m
                        .as_integer()
                        .ok_or_else(|| perr(format!("{name}: mtu is not an integer")))?;
                    ifc.mtu = Some(m as u32);
                }
                if let Some(st) = t.get("state") {
                    match st.as_str() {
                        Some("up") => ifc.up = true,
                        Some("down") => ifc.up = false,
                        _ => return Err(perr(format!("{name}: state must be \"up\" or \"down\""))),
                    }
                }
                if let Some(c) = t.get("carrier") {
                    ifc.carrier = c
                        .as_bool()
                        .ok_or_else(|| perr(format!("{name}: carrier is not a boolean")))?;
                }
                if let Some(sc) = t.get("sysctl") {
                    let tl = sc
                        .as_table_like()
                        .ok_or_else(|| perr(format!("{name}: sysctl is not a table")))?;
                    for (k, v) in tl.iter() {
                        ifc.sysctl
                            .push((k.to_string(), item_scalar(v).map_err(perr)?));
                    }
                }
                spec.interfaces.push(ifc);
            }
        }
        Ok(spec)
    }

    /// Every address of every interface, parsed.
    pub fn address_infos(&self) -> Vec<AddrInfo> {
        let mut out = Vec::new();
        for ifc in &self.interfaces {
            for a in &ifc.addresses {
                if let Some(info) = AddrInfo::parse(&ifc.name, ifc.up, a) {
                    out.push(info);
                }
            }
        }
        out
    }

    /// Every route string, parsed (strings that do not parse are skipped).
    pub fn route_infos(&self) -> Vec<RouteInfo> {
        self.routes
            .iter()
            .filter_map(|r| RouteInfo::parse(r))
            .collect()
    }

    /// Every rule string, parsed.
    pub fn rule_infos(&self) -> Vec<RuleInfo> {
        self.rules.iter().map(|r| RuleInfo::parse(r)).collect()
    }

    /// The value the host's TOML gives a sysctl key last (`[sysctl]` only,
    /// `/` separators normalised to `.`).
    pub fn sysctl_value(&self, key: &str) -> Option<&str> {
        self.sysctl
            .iter()
            .rev()
            .find(|(k, _)| k.replace('/', ".") == key)
            .map(|(_, v)| v.as_str())
    }

    /// True when `net.ipv4.fib_multipath_hash_seed` is set to a nonzero
    /// value, i.e. multipath choices are reproducible outside the kernel.
    pub fn has_fixed_multipath_seed(&self) -> bool {
        self.sysctl_value("net.ipv4.fib_multipath_hash_seed")
            .is_some_and(|v| v.trim() != "0")
    }

    /// Names of the interfaces in order.
    pub fn interface_names(&self) -> Vec<String> {
        self.interfaces.iter().map(|i| i.name.clone()).collect()
    }
}

fn item_scalar(v: &toml_edit::Item) -> std::result::Result<String, String> {
    let v = v
        .as_value()
        .ok_or_else(|| "a sysctl value is not a scalar".to_string())?;
    if let Some(n) = v.as_integer() {
        Ok(n.to_string())
    } else if let Some(s) = v.as_str() {
        Ok(s.to_string())
    } else if let Some(b) = v.as_bool() {
        Ok(if b { "1" } else { "0" }.to_string())
    } else {
        Err(format!("unsupported sysctl value {v}"))
    }
}

/// An address of an interface, as read from an address string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// The device holding it.
    pub dev: String,
    /// Whether that device is administratively up.
    pub dev_up: bool,
    /// The address itself.
    pub addr: Ipv4Addr,
    /// The prefix (`addr/len` truncated).
    pub net: Ipv4Net,
    /// An explicit `brd X`, if given.
    pub brd: Option<Ipv4Addr>,
}

impl AddrInfo {
    /// Parses `A/LEN [words]` (a missing length means /32).
    pub fn parse(dev: &str, dev_up: bool, s: &str) -> Option<AddrInfo> {
        let mut words = s.split_whitespace();
        let first = words.next()?;
        let (addr, len) = match first.split_once('/') {
            Some((a, l)) => (a.parse().ok()?, l.parse().ok()?),
            None => (first.parse().ok()?, 32),
        };
        let net = Ipv4Net::new(addr, len).ok()?.trunc();
        let mut brd = None;
        let mut prev = "";
        for w in words {
            if prev == "brd" || prev == "broadcast" {
                brd = w.parse().ok();
            }
            prev = w;
        }
        Some(AddrInfo {
            dev: dev.to_string(),
            dev_up,
            addr,
            net,
            brd,
        })
    }

    /// The subnet's broadcast address, where the kernel adds one (prefix < 31).
    pub fn subnet_broadcast(&self) -> Option<Ipv4Addr> {
        (self.net.prefix_len() < 31).then(|| self.net.broadcast())
    }
}

/// One nexthop of a route string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NexthopInfo {
    /// `via` address.
    pub gateway: Option<Ipv4Addr>,
    /// `dev` name.
    pub dev: Option<String>,
}

/// A route string read back as far as the tests need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// Route type (`unicast` when none is written).
    pub rtype: String,
    /// Destination prefix (`default` = 0.0.0.0/0).
    pub prefix: Ipv4Net,
    /// Table as written, or iproute2's default for the type (`local` for
    /// local/broadcast/anycast/nat, else `main`).
    pub table: String,
    /// Nexthops: one for a plain route, several for `nexthop ...` groups.
    pub nexthops: Vec<NexthopInfo>,
    /// Whether the route has several `nexthop` groups.
    pub multipath: bool,
    /// `tos`/`dsfield` value, if any.
    pub tos: Option<u8>,
    /// The original string.
    pub text: String,
}

/// Route types iproute2 accepts as the first word.
pub const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "nat",
];

/// Parses a number written as iproute2 accepts it (decimal or `0x` hex).
pub fn parse_num(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn parse_prefix(s: &str) -> Option<Ipv4Net> {
    if s == "default" || s == "all" {
        return Some(Ipv4Net::default());
    }
    match s.split_once('/') {
        Some((a, l)) => Ipv4Net::new(a.parse().ok()?, l.parse().ok()?)
            .ok()
            .map(|n| n.trunc()),
        None => Ipv4Net::new(s.parse().ok()?, 32).ok(),
    }
}

impl RouteInfo {
    /// Parses an `ip route add` argument string.
    pub fn parse(s: &str) -> Option<RouteInfo> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let mut i = 0;
        let mut rtype = "unicast".to_string();
        if let Some(w) = words.first()
            && ROUTE_TYPES.contains(w)
        {
            rtype = w.to_string();
            i = 1;
        }
        // Skip a leading "to".
        if words.get(i) == Some(&"to") {
            i += 1;
        }
        let prefix = parse_prefix(words.get(i)?)?;
        i += 1;
        let mut table = None;
        let mut tos = None;
        let mut nexthops: Vec<NexthopInfo> = Vec::new();
        let mut top = NexthopInfo {
            gateway: None,
            dev: None,
        };
        let mut in_nh = false;
        while i < words.len() {
            let w = words[i];
            let next = words.get(i + 1).copied();
            match w {
                "nexthop" => {
                    in_nh = true;
                    nexthops.push(NexthopInfo {
                        gateway: None,
                        dev: None,
                    });
                    i += 1;
                    continue;
                }
                "via" => {
                    let mut v = next;
                    if v == Some("inet") {
                        i += 1;
                        v = words.get(i + 1).copied();
                    }
                    let gw = v.and_then(|x| x.parse().ok());
                    if in_nh {
                        if let Some(nh) = nexthops.last_mut() {
                            nh.gateway = gw;
                        }
                    } else {
                        top.gateway = gw;
                    }
                }
                "dev" | "oif" => {
                    let d = next.map(str::to_string);
                    if in_nh {
                        if let Some(nh) = nexthops.last_mut() {
                            nh.dev = d;
                        }
                    } else {
                        top.dev = d;
                    }
                }
                "table" => table = next.map(str::to_string),
                "tos" | "dsfield" => tos = next.and_then(parse_num).map(|v| v as u8),
                "onlink" | "pervasive" => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            i += 2;
        }
        let multipath = nexthops.len() > 1;
        if nexthops.is_empty() {
            nexthops.push(top);
        }
        let table = table.unwrap_or_else(|| {
            if matches!(rtype.as_str(), "local" | "broadcast" | "anycast" | "nat") {
                "local".to_string()
            } else {
                "main".to_string()
            }
        });
        Some(RouteInfo {
            rtype,
            prefix,
            table,
            nexthops,
            multipath,
            tos,
            text: s.to_string(),
        })
    }
}

/// A rule string read back as far as the query generator needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleInfo {
    /// `from` prefix.
    pub from: Option<Ipv4Net>,
    /// `to` prefix.
    pub to: Option<Ipv4Net>,
    /// `iif` name.
    pub iif: Option<String>,
    /// `fwmark` value and mask.
    pub fwmark: Option<(u32, Option<u32>)>,
    /// `tos` value.
    pub tos: Option<u8>,
    /// `pref` value.
    pub pref: Option<u32>,
}

impl RuleInfo {
    /// Parses an `ip rule add` argument string.
    pub fn parse(s: &str) -> RuleInfo {
        let words: Vec<&str> = s.split_whitespace().collect();
        let mut r = RuleInfo::default();
        let mut i = 0;
        while i < words.len() {
            let next = words.get(i + 1).copied();
            match words[i] {
                "from" => r.from = next.and_then(parse_prefix),
                "to" => r.to = next.and_then(parse_prefix),
                "iif" | "dev" => r.iif = next.map(str::to_string),
                "fwmark" => {
                    r.fwmark = next.and_then(|m| match m.split_once('/') {
                        Some((v, mask)) => Some((parse_num(v)?, parse_num(mask))),
                        None => Some((parse_num(m)?, None)),
                    })
                }
                "tos" | "dsfield" => r.tos = next.and_then(parse_num).map(|v| v as u8),
                "pref" | "priority" | "preference" => r.pref = next.and_then(parse_num),
                "not" | "nop" | "blackhole" | "unreachable" | "prohibit" => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            i += 2;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HostSpec {
        let mut a = InterfaceSpec::new("eth0");
        a.addresses = vec!["10.0.1.1/24".into(), "10.0.1.2/24 brd 10.0.1.77".into()];
        a.sysctl = vec![
            ("rp_filter".into(), "2".into()),
            ("forwarding".into(), "1".into()),
        ];
        a.mac = Some("02:00:00:00:00:02".into());
        let mut b = InterfaceSpec::new("wan0");
        b.up = false;
        b.carrier = false;
        b.mtu = Some(1400);
        HostSpec {
            title: "seed 7\nsecond line".into(),
            interfaces: vec![a, b],
            sysctl: vec![
                ("net.ipv4.ip_forward".into(), "1".into()),
                ("net.ipv4.conf.all.rp_filter".into(), "0".into()),
                ("net/ipv4/conf/eth0/accept_local".into(), "1".into()),
            ],
            routes: vec!["default via 10.0.1.254 dev eth0".into()],
            rules: vec!["from 10.0.0.0/8 pref 100 lookup 100".into()],
        }
    }

    #[test]
    fn toml_round_trip_keeps_order() {
        let s = sample();
        let text = s.to_toml();
        let back = HostSpec::from_toml(&text).unwrap();
        assert_eq!(back.interfaces, s.interfaces);
        assert_eq!(back.sysctl, s.sysctl);
        assert_eq!(back.routes, s.routes);
        assert_eq!(back.rules, s.rules);
        // The toml crate (used by fwdsim-host) must read it as well.
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert!(v.get("interface").is_some());
    }

    #[test]
    fn route_strings_parse() {
        let r = RouteInfo::parse(
            "10.23.0.0/24 table 100 nexthop via 10.1.0.2 dev e0 weight 1 nexthop via 10.5.0.2 dev e1",
        )
        .unwrap();
        assert!(r.multipath);
        assert_eq!(r.table, "100");
        assert_eq!(r.nexthops[1].dev.as_deref(), Some("e1"));
        let r = RouteInfo::parse("anycast 10.14.0.0/24 dev e0").unwrap();
        assert_eq!((r.rtype.as_str(), r.table.as_str()), ("anycast", "local"));
        let r = RouteInfo::parse("unreachable default tos 0x08 table 100").unwrap();
        assert_eq!(r.prefix.prefix_len(), 0);
        assert_eq!(r.tos, Some(8));
        let r = RouteInfo::parse("10.22.0.0/24 via 10.9.9.9 dev e0 onlink metric 5").unwrap();
        assert_eq!(r.nexthops[0].gateway, Some(Ipv4Addr::new(10, 9, 9, 9)));
    }

    #[test]
    fn rule_strings_parse() {
        let r = RuleInfo::parse(
            "not from 10.1.0.0/24 iif e0 fwmark 0x7/0xff tos 0x10 pref 100 lookup 100",
        );
        assert_eq!(r.fwmark, Some((7, Some(0xff))));
        assert_eq!(r.pref, Some(100));
        assert_eq!(r.iif.as_deref(), Some("e0"));
        assert_eq!(r.tos, Some(0x10));
    }

    #[test]
    fn address_strings_parse() {
        let a = AddrInfo::parse("e0", true, "10.0.1.10/24 brd 10.0.1.77 scope link").unwrap();
        assert_eq!(a.brd, Some(Ipv4Addr::new(10, 0, 1, 77)));
        assert_eq!(a.subnet_broadcast(), Some(Ipv4Addr::new(10, 0, 1, 255)));
        let a = AddrInfo::parse("e0", true, "10.0.1.1/31").unwrap();
        assert_eq!(a.subnet_broadcast(), None);
    }
}
