//! Loads a TOML host (docs/host-format.md): a fresh namespace configured in
//! a fixed order, each step as the kernel would do it: `lo`, the
//! interfaces, their addresses (with the kernel's address routes), the
//! `[sysctl]` table and the per-interface `sysctl` tables (with the kernel's
//! propagation), the routes, the rules.

use std::fmt;
use std::path::Path;

use fwdsim_kernel::Netns;
use fwdsim_kernel::ipv4::devinet::DevconfKey;
use fwdsim_kernel::netfilter::xtables::ip_tables::XtBackend;
use fwdsim_kernel::netns::{ConfigError, NetDevice};
use fwdsim_kernel::uapi::{DevFlags, LinkType, RouteType};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::checks;
use crate::error::HostError;
use crate::names::parse_mac;
use crate::netfilter::NfLoad;
use crate::parse::{parse_address, parse_route, parse_rule};
use crate::snapshot::{config, read};
use crate::sysctl::write_sysctl;

/// The whole file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct HostToml {
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    sysctl: Sysctls,
    #[serde(default)]
    interface: Vec<Interface>,
    #[serde(default)]
    neigh: Vec<Neigh>,
    #[serde(default)]
    socket: Vec<SocketToml>,
    #[serde(default)]
    firewall: Option<Firewall>,
}

/// `[firewall]`: netfilter state in the formats of `iptables-restore` and
/// `ipset restore`, as multi-line strings.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Firewall {
    #[serde(default)]
    iptables: Option<toml::Spanned<String>>,
    #[serde(default)]
    ipset: Option<toml::Spanned<String>>,
}

/// One `[[socket]]`: a bound UDP socket or a listening TCP one.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct SocketToml {
    proto: String,
    #[serde(default)]
    address: Option<String>,
    port: u16,
}

/// One `[[neigh]]`: an ARP entry, as `ip neigh replace ADDRESS lladdr MAC dev DEV nud STATE`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Neigh {
    dev: String,
    address: String,
    #[serde(default)]
    lladdr: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// One `[[interface]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Interface {
    name: String,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    carrier: Option<bool>,
    #[serde(default)]
    group: Option<u32>,
    #[serde(default)]
    sysctl: Sysctls,
}

/// Sysctl settings in file order. Keys may be quoted full names
/// (`"net.ipv4.ip_forward" = 1`) or TOML dotted keys, which nest tables
/// (`net.ipv4.ip_forward = 1`); both give the same key. Values are
/// integers, booleans (1/0) or strings holding an integer.
#[derive(Debug, Default)]
struct Sysctls(Vec<(String, i64)>);

enum SysVal {
    Int(i64),
    Table(Vec<(String, SysVal)>),
}

fn flatten(prefix: &str, v: SysVal, out: &mut Vec<(String, i64)>) {
    match v {
        SysVal::Int(i) => out.push((prefix.to_string(), i)),
        SysVal::Table(t) => {
            for (k, v) in t {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
    }
}

impl<'de> Deserialize<'de> for SysVal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SysVal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer sysctl value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SysVal, E> {
                Ok(SysVal::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SysVal, E> {
                i64::try_from(v)
                    .map(SysVal::Int)
                    .map_err(|_| E::custom("sysctl value too large"))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SysVal, E> {
                Ok(SysVal::Int(v as i64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SysVal, E> {
                v.trim()
                    .parse()
                    .map(SysVal::Int)
                    .map_err(|_| E::custom(format!("sysctl value {v:?} is not an integer")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<SysVal, A::Error> {
                let mut t = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, SysVal>()? {
                    t.push((k, v));
                }
                Ok(SysVal::Table(t))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Sysctls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match SysVal::deserialize(d)? {
            SysVal::Int(_) => Err(de::Error::custom(
                "a sysctl table is expected (`[sysctl]` or `sysctl = { key = value }`)",
            )),
            SysVal::Table(t) => {
                let mut out = Vec::new();
                for (k, v) in t {
                    flatten(&k, v, &mut out);
                }
                Ok(Sysctls(out))
            }
        }
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

/// Loads a TOML host file.
pub fn load_toml(path: &Path) -> Result<Netns, HostError> {
    load_toml_with_notes(path).map(|(ns, _)| ns)
}

/// Loads a TOML host file, with the non-fatal notes of loading (rules of
/// `[firewall]` that are not modelled), one line each.
pub fn load_toml_with_notes(path: &Path) -> Result<(Netns, Vec<String>), HostError> {
    let text = read(path)?;
    load_toml_str_with_notes(&text, path)
}

/// Loads a TOML host from text; `name` is the file name used in errors.
pub fn load_toml_str(text: &str, name: impl AsRef<Path>) -> Result<Netns, HostError> {
    load_toml_str_with_notes(text, name).map(|(ns, _)| ns)
}

/// [`load_toml_str`] with the notes of loading.
pub fn load_toml_str_with_notes(
    text: &str,
    name: impl AsRef<Path>,
) -> Result<(Netns, Vec<String>), HostError> {
    let file = name.as_ref();
    let host: HostToml = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        HostError::Toml {
            file: file.to_path_buf(),
            line,
            column,
            // One line: toml's messages may hold several.
            msg: e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        }
    })?;
    let mut nf = NfLoad::default();
    let mut ns = build(&host, file, &mut nf)?;
    if let Some(fw) = &host.firewall {
        let tag = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        if let Some(b) = &fw.ipset {
            nf.load_ipset(b.get_ref(), file, block_first_line(text, b.span().start))?;
        }
        if let Some(b) = &fw.iptables {
            nf.load_iptables(
                b.get_ref(),
                file,
                &tag,
                XtBackend::Nft,
                block_first_line(text, b.span().start),
            )?;
        }
    }
    let notes = std::mem::take(&mut nf.warnings);
    ns.nf = nf.into_netfilter().map(Box::new);
    Ok((ns, notes))
}

/// The line of the TOML file where a multi-line string starting at byte
/// `start` (at its opening quotes) has its first line: TOML drops a newline
/// right after the opening `"""` or `'''`.
fn block_first_line(text: &str, start: usize) -> usize {
    let (line, _) = line_col(text, start);
    let rest = text.get(start..).unwrap_or("");
    let after = rest
        .strip_prefix("\"\"\"")
        .or_else(|| rest.strip_prefix("'''"));
    match after {
        Some(a) if a.starts_with('\n') || a.starts_with("\r\n") => line + 1,
        _ => line,
    }
}

fn bad_value(file: &Path, what: String) -> HostError {
    HostError::BadValue {
        file: file.to_path_buf(),
        what,
    }
}

/// `dev_valid_name`.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() < 16
        && n != "."
        && n != ".."
        && !n.contains(|c: char| c == '/' || c == ':' || c.is_whitespace())
}

fn build(host: &HostToml, file: &Path, nf: &mut NfLoad) -> Result<Netns, HostError> {
    // 1. lo, then the interfaces in file order.
    let mut ns = Netns::with_loopback();
    ns.fib_default_rules_init();
    let mut ifindexes = Vec::with_capacity(host.interface.len());
    for i in &host.interface {
        if i.name == "lo" {
            if i.mac.is_some()
                || i.mtu.is_some()
                || i.state.is_some()
                || i.carrier.is_some()
                || i.group.is_some()
            {
                return Err(bad_value(
                    file,
                    "interface \"lo\" is the namespace's loopback: only `addresses` and `sysctl` may be given".into(),
                ));
            }
            ifindexes.push(ns.loopback_ifindex());
            continue;
        }
        if !valid_name(&i.name) {
            return Err(bad_value(
                file,
                format!(
                    "interface name {:?} (1 to 15 characters, no '/', ':' or whitespace)",
                    i.name
                ),
            ));
        }
        let ifindex = ns.next_ifindex();
        let up = match i.state.as_deref() {
            None | Some("up") => true,
            Some("down") => false,
            Some(s) => {
                return Err(bad_value(
                    file,
                    format!(
                        "interface {:?}: state {s:?} (allowed: \"up\", \"down\")",
                        i.name
                    ),
                ));
            }
        };
        let carrier = i.carrier.unwrap_or(true);
        let mut flags = DevFlags::IFF_BROADCAST.0 | DevFlags::IFF_MULTICAST.0;
        if up {
            flags |= DevFlags::IFF_UP.0;
            if carrier {
                flags |= DevFlags::IFF_RUNNING.0 | DevFlags::IFF_LOWER_UP.0;
            }
        }
        let mac = match &i.mac {
            None => {
                let b = ifindex.0.to_be_bytes();
                [0x02, 0, 0, b[1], b[2], b[3]]
            }
            Some(m) => parse_mac(m).ok_or_else(|| HostError::BadAddress {
                file: file.to_path_buf(),
                what: format!(
                    "interface {:?}: mac {m:?} is not a MAC address (aa:bb:cc:dd:ee:ff)",
                    i.name
                ),
            })?,
        };
        let dev = NetDevice {
            name: i.name.clone(),
            ifindex,
            flags: DevFlags(flags),
            mtu: i.mtu.unwrap_or(1500),
            dev_addr: mac,
            broadcast: [0xff; 6],
            link_type: LinkType::Ether,
            group: i.group.unwrap_or(0),
            carrier,
            ip_ptr: None,
            kind: Default::default(),
            master: None,
            brport: None,
        };
        ns.register_netdev(dev).map_err(|e| config(file, e))?;
        ifindexes.push(ifindex);
    }
    ns.resolve_rules();

    // 2. Addresses, as `ip addr add`: the kernel's routes appear.
    for (i, &ifindex) in host.interface.iter().zip(&ifindexes) {
        for a in &i.addresses {
            let bad = |what: String| HostError::BadAddress {
                file: file.to_path_buf(),
                what: format!("interface {:?}: {a:?}: {what}", i.name),
            };
            let ifa = parse_address(a, &i.name).map_err(bad)?;
            checks::address(&ns, ifindex, &ifa).map_err(bad)?;
            ns.inet_insert_ifa(ifindex, ifa, true)
                .map_err(|e| config(file, e))?;
        }
    }

    // 3. [sysctl], as `sysctl -w`, in file order; net.netfilter.* and
    // net.bridge.* go to the netfilter sysctls.
    for (k, v) in &host.sysctl.0 {
        if k.starts_with("net.netfilter.") || k.starts_with("net.bridge.") {
            if !nf.sysctl.set(k, &v.to_string()) {
                return Err(HostError::UnknownSysctl {
                    file: file.to_path_buf(),
                    key: k.clone(),
                });
            }
            continue;
        }
        write_sysctl(&mut ns, file, k, *v)?;
    }

    // 4. Each interface's sysctl table.
    for i in &host.interface {
        for (k, v) in &i.sysctl.0 {
            let key = format!("net.ipv4.conf.{}.{k}", i.name);
            if DevconfKey::from_sysctl_name(k).is_none() {
                // Keys here are the names under net.ipv4.conf.NAME.
                return Err(HostError::UnknownSysctl {
                    file: file.to_path_buf(),
                    key,
                });
            }
            write_sysctl(&mut ns, file, &key, *v)?;
        }
    }

    // 5. Routes, as `ip route add`.
    for r in &host.routes {
        let bad = |msg: String| HostError::BadRoute {
            file: file.to_path_buf(),
            route: r.clone(),
            msg,
        };
        let spec = parse_route(r, &ns).map_err(bad)?;
        checks::route(&ns, &spec).map_err(bad)?;
        ns.fib_table_insert(&spec, false).map_err(|e| match e {
            ConfigError::Route(_, m) => bad(m.to_string()),
            ConfigError::UnknownIfindex(_) => bad("No such device".into()),
            e => config(file, e),
        })?;
        if spec.rt_type == RouteType::RTN_LOCAL {
            // inet_rtm_newroute: a user-added local route.
            ns.fib.has_custom_local_routes = true;
        }
    }

    // 6. Neighbours, as `ip neigh replace`.
    for n in &host.neigh {
        use fwdsim_kernel::core::neighbour::{Neighbour, NudState};
        let bad = |what: String| HostError::BadValue {
            file: file.to_path_buf(),
            what: format!("neigh {:?}: {what}", n.address),
        };
        let dev =
            ns.dev_by_name(&n.dev)
                .map(|d| d.ifindex)
                .ok_or_else(|| HostError::UnknownDevice {
                    file: file.to_path_buf(),
                    name: n.dev.clone(),
                })?;
        let ip = n
            .address
            .parse()
            .map_err(|_| bad("not an IPv4 address".into()))?;
        let lladdr = match &n.lladdr {
            Some(m) => {
                Some(crate::names::parse_mac(m).ok_or_else(|| bad(format!("bad lladdr {m:?}")))?)
            }
            None => None,
        };
        let state = match &n.state {
            Some(w) => NudState::from_word(&w.to_ascii_uppercase())
                .ok_or_else(|| bad(format!("unknown state {w:?}")))?,
            None if lladdr.is_some() => NudState::NUD_PERMANENT,
            None => NudState::NUD_INCOMPLETE,
        };
        ns.neigh.retain(|x| !(x.dev == dev && x.ip == ip));
        ns.neigh.push(Neighbour::new(dev, ip, lladdr, state));
    }

    // 7. Sockets.
    for k in &host.socket {
        let bad = |what: String| HostError::BadValue {
            file: file.to_path_buf(),
            what: format!("socket {}/{}: {what}", k.proto, k.port),
        };
        let protocol = match k.proto.as_str() {
            "udp" => 17,
            "tcp" => 6,
            p => return Err(bad(format!("proto {p:?} is not \"udp\" or \"tcp\""))),
        };
        let addr = match &k.address {
            Some(a) => a
                .parse()
                .map_err(|_| bad(format!("{a:?} is not an IPv4 address")))?,
            None => std::net::Ipv4Addr::UNSPECIFIED,
        };
        ns.sockets.push(fwdsim_kernel::netns::Socket {
            protocol,
            addr,
            port: k.port,
        });
    }

    // 8. Rules, as `ip rule add`.
    for r in &host.rules {
        let bad = |msg: String| HostError::BadRule {
            file: file.to_path_buf(),
            rule: r.clone(),
            msg,
        };
        let (rule, pref) = parse_rule(r).map_err(bad)?;
        checks::rule(&ns, &rule, pref).map_err(bad)?;
        ns.fib_rule_add(rule, pref).map_err(|e| match e {
            ConfigError::Rule(_, m) => bad(m.to_string()),
            e => config(file, e),
        })?;
    }
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fwdsim_kernel::IfIndex;
    use serde_json::Value;

    fn load(text: &str) -> Result<Netns, HostError> {
        load_toml_str(text, "t.toml")
    }

    fn routes(ns: &Netns) -> Vec<String> {
        crate::show_json(ns)["route"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect()
    }

    const DOCKER: &str = r#"
routes = ["default via 10.0.2.2 dev eth0"]
[sysctl]
"net.ipv4.ip_forward" = 0
[[interface]]
name = "eth0"
addresses = ["10.0.2.15/24"]
mac = "52:54:00:12:34:56"
[[interface]]
name = "docker0"
addresses = ["172.17.0.1/16"]
"#;

    #[test]
    fn addresses_make_the_kernels_routes() {
        let ns = load(DOCKER).unwrap();
        let r = routes(&ns);
        let want = [
            r#"{"dst":"default","gateway":"10.0.2.2","dev":"eth0","flags":[]}"#,
            r#"{"dst":"10.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.0.2.15","flags":[]}"#,
            r#"{"dst":"172.17.0.0/16","dev":"docker0","protocol":"kernel","scope":"link","prefsrc":"172.17.0.1","flags":[]}"#,
            r#"{"type":"local","dst":"10.0.2.15","dev":"eth0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.0.2.15","flags":[]}"#,
            r#"{"type":"broadcast","dst":"10.0.2.255","dev":"eth0","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.0.2.15","flags":[]}"#,
            r#"{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]}"#,
            r#"{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]}"#,
            r#"{"type":"broadcast","dst":"127.255.255.255","dev":"lo","table":"local","protocol":"kernel","scope":"link","prefsrc":"127.0.0.1","flags":[]}"#,
            r#"{"type":"local","dst":"172.17.0.1","dev":"docker0","table":"local","protocol":"kernel","scope":"host","prefsrc":"172.17.0.1","flags":[]}"#,
            r#"{"type":"broadcast","dst":"172.17.255.255","dev":"docker0","table":"local","protocol":"kernel","scope":"link","prefsrc":"172.17.0.1","flags":[]}"#,
        ];
        assert_eq!(r, want);
        assert!(!ns.fib.has_custom_rules);
        assert_eq!(ns.dev_by_name("docker0").unwrap().ifindex, IfIndex(3));
        assert_eq!(
            ns.dev_by_name("docker0").unwrap().dev_addr,
            [2, 0, 0, 0, 0, 3]
        );
        assert_eq!(
            ns.dev_by_name("eth0").unwrap().dev_addr,
            [0x52, 0x54, 0, 0x12, 0x34, 0x56]
        );
    }

    #[test]
    fn small_prefixes_and_special_addresses() {
        let ns = load(
            r#"
[[interface]]
name = "e1"
addresses = ["10.1.0.0/31", "192.0.2.7/32", "10.200.0.1/8", "0.1.2.3/8", "10.200.0.2/8"]
[[interface]]
name = "e2"
state = "down"
addresses = ["10.3.0.1/24"]
"#,
        )
        .unwrap();
        let r = routes(&ns).join("\n");
        assert!(r.contains(r#"{"dst":"10.1.0.0/31","dev":"e1""#));
        assert!(!r.contains(r#""dst":"10.1.0.1""#), "no broadcast for a /31");
        assert!(!r.contains(r#""dst":"192.0.2.7/32""#));
        assert!(r.contains(r#""type":"local","dst":"192.0.2.7""#));
        assert!(
            !r.contains(r#""dst":"0.0.0.0/8""#),
            "no prefix route in 0.0.0.0/8"
        );
        assert!(r.contains(r#""type":"local","dst":"0.1.2.3""#));
        // The secondary's local route has the primary's source.
        assert!(r.contains(r#""type":"local","dst":"10.200.0.2","dev":"e1","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.200.0.1""#));
        // A down device only gets the local route.
        assert!(r.contains(r#""dst":"10.3.0.1""#));
        assert!(!r.contains(r#""dst":"10.3.0.0/24""#));
        assert!(!r.contains(r#""dst":"10.3.0.255""#));
    }

    #[test]
    fn sysctls_propagate_in_file_order() {
        let ns = load(
            r#"
[sysctl]
net.ipv4.ip_forward = 1
"net.ipv4.conf.default.rp_filter" = 2
"net/ipv4/conf/all/accept_local" = true
[[interface]]
name = "eth0"
addresses = ["10.0.0.1/24"]
sysctl = { send_redirects = 0 }
[[interface]]
name = "spare0"
"#,
        )
        .unwrap();
        let g = |k: &str| ns.sysctl_get(k).unwrap();
        assert_eq!(g("net.ipv4.conf.eth0.forwarding"), 1);
        assert_eq!(g("net.ipv4.conf.lo.forwarding"), 1);
        assert_eq!(g("net.ipv4.conf.default.forwarding"), 1);
        assert_eq!(g("net.ipv4.conf.all.accept_redirects"), 0);
        // conf.default reaches only the device without an address.
        assert_eq!(g("net.ipv4.conf.eth0.rp_filter"), 0);
        assert_eq!(g("net.ipv4.conf.spare0.rp_filter"), 2);
        assert_eq!(g("net.ipv4.conf.all.accept_local"), 1);
        assert_eq!(g("net.ipv4.conf.eth0.send_redirects"), 0);
    }

    #[test]
    fn routes_and_rules_load_as_iproute2_adds_them() {
        let ns = load(
            r#"
routes = [
  "default via 10.0.0.254",
  "local 198.51.100.7 dev eth0",
  "blackhole 192.0.2.0/24 table 100",
]
rules = ["from 10.0.0.128/25 lookup 100", "fwmark 7 lookup 100 pref 50"]
[[interface]]
name = "eth0"
addresses = ["10.0.0.1/24"]
"#,
        )
        .unwrap();
        assert!(ns.fib.has_custom_rules);
        assert!(ns.fib.has_custom_local_routes);
        let prefs: Vec<u32> = ns.fib.rules.iter().map(|r| r.pref).collect();
        assert_eq!(prefs, [0, 50, 32765, 32766, 32767]);
        let r = routes(&ns);
        assert_eq!(
            r[0],
            r#"{"type":"blackhole","dst":"192.0.2.0/24","table":"100","flags":[]}"#
        );
        assert_eq!(
            r[1],
            r#"{"dst":"default","gateway":"10.0.0.254","dev":"eth0","flags":[]}"#
        );
        let t = crate::show_text(&ns);
        assert!(
            t.contains("\nlocal 198.51.100.7 dev eth0 table local scope host \n"),
            "{t}"
        );
        assert!(t.contains("32765:\tfrom 10.0.0.128/25 lookup 100\n"), "{t}");
        assert!(t.contains("50:\tfrom all fwmark 0x7 lookup 100\n"), "{t}");
    }

    #[test]
    fn lo_takes_more_addresses() {
        let ns = load("[[interface]]\nname = \"lo\"\naddresses = [\"203.0.113.1/32\"]\n").unwrap();
        assert_eq!(ns.devices.len(), 1);
        assert!(
            routes(&ns)
                .iter()
                .any(|r| r.contains(r#""dst":"203.0.113.1","dev":"lo""#))
        );
        let e = load("[[interface]]\nname = \"lo\"\nmtu = 1500\n").unwrap_err();
        assert!(matches!(e, HostError::BadValue { .. }), "{e}");
    }

    #[test]
    fn syntax_and_unknown_keys_have_a_position() {
        let e =
            load("routes = []\n[[interface]]\nname = \"eth0\"\nmac_address = \"x\"\n").unwrap_err();
        match &e {
            HostError::Toml {
                line, column, msg, ..
            } => {
                assert_eq!((*line, *column), (4, 1));
                assert!(msg.starts_with("unknown field `mac_address`"), "{msg}");
            }
            e => panic!("{e:?}"),
        }
        assert!(
            e.to_string()
                .starts_with("t.toml:4:1: unknown field `mac_address`")
        );
        let e = load("routes = [\"a\"\n").unwrap_err();
        assert!(
            matches!(
                e,
                HostError::Toml {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.to_string(), "t.toml:2:1: invalid array; expected `]`");
        let e = load("frob = 1\n").unwrap_err();
        assert!(
            matches!(
                e,
                HostError::Toml {
                    line: 1,
                    column: 1,
                    ..
                }
            ),
            "{e}"
        );
        let e = load("[sysctl]\n\"net.ipv4.ip_forward\" = \"yes\"\n").unwrap_err();
        assert!(matches!(e, HostError::Toml { line: 2, .. }), "{e}");
    }

    #[test]
    fn precise_errors() {
        let e = load("[[interface]]\nname = \"a\"\n[[interface]]\nname = \"a\"\n").unwrap_err();
        assert!(
            matches!(&e, HostError::DuplicateDevice { name, .. } if name == "a"),
            "{e}"
        );
        let e = load("[[interface]]\nname = \"a\"\naddresses = [\"10.0.0.256/24\"]\n").unwrap_err();
        assert!(matches!(e, HostError::BadAddress { .. }), "{e}");
        let e =
            load("[[interface]]\nname = \"a\"\naddresses = [\"10.0.0.1/24\", \"10.0.0.1/24\"]\n")
                .unwrap_err();
        assert!(
            e.to_string().ends_with("ipv4: Address already assigned"),
            "{e}"
        );
        let e = load("[[interface]]\nname = \"a\"\naddresses = [\"10.0.0.1/24 noprefixroute\"]\n")
            .unwrap_err();
        assert!(e.to_string().contains("not modelled yet"), "{e}");
        let e = load("[[interface]]\nname = \"a\"\nmac = \"zz\"\n").unwrap_err();
        assert!(matches!(e, HostError::BadAddress { .. }), "{e}");
        let e = load("[[interface]]\nname = \"a\"\nstate = \"sideways\"\n").unwrap_err();
        assert!(matches!(e, HostError::BadValue { .. }), "{e}");
        let e = load("[[interface]]\nname = \"a/b\"\n").unwrap_err();
        assert!(matches!(e, HostError::BadValue { .. }), "{e}");
        let e = load("[sysctl]\n\"net.ipv4.conf.all.frobnicate\" = 1\n").unwrap_err();
        assert!(
            matches!(&e, HostError::UnknownSysctl { key, .. } if key == "net.ipv4.conf.all.frobnicate"),
            "{e}"
        );
        let e = load("[sysctl]\n\"net.ipv4.conf.eth9.rp_filter\" = 1\n").unwrap_err();
        assert!(
            matches!(&e, HostError::UnknownDevice { name, .. } if name == "eth9"),
            "{e}"
        );
        let e = load("[[interface]]\nname = \"a\"\nsysctl = { frob = 1 }\n").unwrap_err();
        assert!(matches!(e, HostError::UnknownSysctl { .. }), "{e}");
    }

    #[test]
    fn the_kernel_refusals_of_routes_and_rules() {
        let base = "[[interface]]\nname = \"eth0\"\naddresses = [\"10.0.0.1/24\"]\n[[interface]]\nname = \"eth1\"\nstate = \"down\"\n";
        for (route, msg) in [
            ("10.9.0.0/16 dev eth9", "Cannot find device \"eth9\""),
            (
                "10.9.0.1/16 dev eth0",
                "Invalid prefix for given prefix length",
            ),
            ("10.9.0.0/16 via 10.8.0.1", "Nexthop has invalid gateway"),
            ("10.0.0.0/24 dev eth0", "File exists"),
            ("10.9.0.0/16 dev eth1", "Device for nexthop is not up"),
            ("10.9.0.0/16", "No such device"),
            (
                "blackhole 10.9.0.0/16 dev eth0",
                "Gateway, device and multipath can not be specified for this route type",
            ),
            ("local 10.9.0.1 dev eth0 scope global", "Invalid scope"),
            (
                "local 10.9.0.1 via 10.0.0.2",
                "Route with host scope can not have a gateway",
            ),
            (
                "10.9.0.0/16 tos 0x11 dev eth0",
                "Invalid dsfield (tos): ECN bits must be 0",
            ),
            (
                "10.9.0.0/16 via 192.168.9.1 dev eth0 onlink scope link",
                "Nexthop has invalid scope",
            ),
            (
                "10.9.0.0/16 dev eth0 onlink",
                "Invalid flags for nexthop - PERVASIVE and ONLINK can not be set",
            ),
        ] {
            let text = format!("routes = [{route:?}]\n{base}");
            match load(&text) {
                Err(HostError::BadRoute {
                    route: r, msg: m, ..
                }) => {
                    assert_eq!(r, route);
                    assert_eq!(m, msg, "{route}");
                }
                other => panic!("{route}: {other:?}"),
            }
        }
        for (rule, msg) in [
            ("pref 10 goto 5", "Backward goto not supported"),
            ("tos CS1 lookup 5", "Invalid tos"),
            (
                "tos 0x02 lookup 5",
                "Invalid dsfield (tos): ECN bits must be 0",
            ),
            (
                "frob",
                "argument \"frob\" is wrong: Failed to parse rule type",
            ),
        ] {
            let text = format!("rules = [{rule:?}]\n{base}");
            match load(&text) {
                Err(HostError::BadRule {
                    rule: r, msg: m, ..
                }) => {
                    assert_eq!(r, rule);
                    assert_eq!(m, msg, "{rule}");
                }
                other => panic!("{rule}: {other:?}"),
            }
        }
        let text = format!(
            "rules = [\"from 1.2.3.0/24 lookup 7 pref 20\", \"from 1.2.3.0/24 lookup 7 pref 20\"]\n{base}"
        );
        assert!(matches!(load(&text), Err(HostError::BadRule { msg, .. }) if msg == "File exists"));
    }

    #[test]
    fn fixtures_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hosts");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if !(p.is_dir() || p.extension().is_some_and(|x| x == "toml")) {
                continue;
            }
            let ns = crate::load_host(&p).unwrap_or_else(|e| panic!("{e}"));
            assert!(!crate::show_text(&ns).is_empty());
            n += 1;
        }
        assert!(n >= 7);
        let on = load_toml(&dir.join("docker-forwarding-on.toml")).unwrap();
        assert_eq!(
            on.sysctl_get("net.ipv4.conf.docker0.forwarding").unwrap(),
            1
        );
        let off = load_toml(&dir.join("docker-forwarding-off.toml")).unwrap();
        assert_eq!(
            off.sysctl_get("net.ipv4.conf.docker0.forwarding").unwrap(),
            0
        );
    }
}
