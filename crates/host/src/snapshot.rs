//! Loads a snapshot directory: the unmodified output of `ip -j addr show`,
//! `ip -j -4 route show table all`, `ip -j -4 rule show`, `ip -j -4 neigh
//! show` and `sysctl net.ipv4` (or `sysctl -a`), taken as it is: devices and
//! addresses without the kernel's address routes (route.json already holds
//! them), every route of every table in file order, the rules exactly as
//! listed, and the sysctl values without propagation.

use std::net::Ipv4Addr;
use std::path::Path;

use fwdsim_kernel::core::fib_rules::{FibRule, FibRuleAction};
use fwdsim_kernel::ipv4::devinet::{IfaFlags, InIfaddr};
use fwdsim_kernel::netfilter::xtables::ip_tables::XtBackend;
use fwdsim_kernel::netns::{ConfigError, NetDevice, NexthopSpec, RouteSpec, rt_table};
use fwdsim_kernel::uapi::{DevFlags, LinkType, RouteType, RtProt, RtScope, RtnhFlags};
use fwdsim_kernel::{IfIndex, Netns};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::HostError;
use crate::names::{
    dsfield_a2n, get_u32, group_a2n, ipproto_a2n, parse_ipv4, parse_mac, proto_a2n, rtntype_a2n,
    scope_a2n, table_a2n,
};
use crate::netfilter::NfLoad;
use crate::sysctl::load_sysctl_txt;

/// True when the key is present, whatever its value (`"not": null`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// A string or a number, as iproute2 prints some values either way.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
enum StrOrNum {
    S(String),
    N(u64),
}

impl StrOrNum {
    fn text(&self) -> String {
        match self {
            StrOrNum::S(s) => s.clone(),
            StrOrNum::N(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize, Debug)]
struct JLink {
    ifindex: u32,
    ifname: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(default)]
    operstate: Option<String>,
    #[serde(default)]
    group: Option<StrOrNum>,
    #[serde(default)]
    link_type: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    broadcast: Option<String>,
    #[serde(default)]
    addr_info: Vec<JAddr>,
    /// The master device's name (a bridge port's bridge).
    #[serde(default)]
    master: Option<String>,
    /// `ip -d`'s link details, where the snapshot has them.
    #[serde(default)]
    linkinfo: Option<JLinkInfo>,
}

#[derive(Deserialize, Debug)]
struct JLinkInfo {
    #[serde(default)]
    info_kind: Option<String>,
    #[serde(default)]
    info_slave_kind: Option<String>,
}

#[derive(Deserialize, Debug)]
struct JAddr {
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    local: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    prefixlen: Option<u8>,
    #[serde(default)]
    broadcast: Option<String>,
    #[serde(default)]
    scope: Option<StrOrNum>,
    #[serde(default)]
    secondary: bool,
    #[serde(default)]
    noprefixroute: bool,
    #[serde(default)]
    nodad: bool,
    #[serde(default)]
    dynamic: bool,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    metric: Option<u32>,
}

#[derive(Deserialize, Debug)]
struct JNexthop {
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    via: Option<Value>,
    #[serde(default)]
    dev: Option<String>,
    #[serde(default)]
    weight: Option<u32>,
    #[serde(default)]
    flags: Vec<String>,
}

#[derive(Deserialize, Debug)]
struct JRoute {
    #[serde(default, rename = "type")]
    rt_type: Option<String>,
    dst: String,
    #[serde(default)]
    tos: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    via: Option<Value>,
    #[serde(default)]
    dev: Option<String>,
    #[serde(default)]
    table: Option<StrOrNum>,
    #[serde(default)]
    protocol: Option<StrOrNum>,
    #[serde(default)]
    scope: Option<StrOrNum>,
    #[serde(default)]
    prefsrc: Option<String>,
    #[serde(default)]
    metric: Option<u32>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    metrics: Vec<serde_json::Map<String, Value>>,
    #[serde(default)]
    nexthops: Vec<JNexthop>,
    #[serde(default)]
    nhid: Option<u32>,
    #[serde(default)]
    encap: Option<Value>,
    #[serde(default)]
    src: Option<String>,
}

#[derive(Deserialize, Debug)]
struct JRule {
    priority: u32,
    #[serde(default, deserialize_with = "present")]
    not: bool,
    #[serde(default)]
    src: Option<String>,
    #[serde(default)]
    srclen: Option<u8>,
    #[serde(default)]
    dst: Option<String>,
    #[serde(default)]
    dstlen: Option<u8>,
    #[serde(default)]
    tos: Option<String>,
    #[serde(default)]
    dscp: Option<StrOrNum>,
    #[serde(default)]
    fwmark: Option<String>,
    #[serde(default)]
    fwmask: Option<String>,
    #[serde(default)]
    iif: Option<String>,
    #[serde(default)]
    oif: Option<String>,
    #[serde(default, deserialize_with = "present")]
    l3mdev: bool,
    #[serde(default)]
    uid_start: Option<u32>,
    #[serde(default)]
    uid_end: Option<u32>,
    #[serde(default)]
    ipproto: Option<String>,
    #[serde(default)]
    sport: Option<u16>,
    #[serde(default)]
    sport_start: Option<u16>,
    #[serde(default)]
    sport_end: Option<u16>,
    #[serde(default)]
    dport: Option<u16>,
    #[serde(default)]
    dport_start: Option<u16>,
    #[serde(default)]
    dport_end: Option<u16>,
    #[serde(default)]
    tun_id: Option<Value>,
    #[serde(default)]
    table: Option<StrOrNum>,
    #[serde(default)]
    suppress_prefixlen: Option<i32>,
    #[serde(default)]
    suppress_ifgroup: Option<StrOrNum>,
    #[serde(default)]
    flow_to: Option<Value>,
    #[serde(default)]
    flow_from: Option<Value>,
    #[serde(default)]
    goto: Option<StrOrNum>,
    #[serde(default, deserialize_with = "present")]
    nop: bool,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    protocol: Option<StrOrNum>,
    #[serde(default)]
    nat: Option<Value>,
}

/// Reads a file, saying which one is missing or unreadable.
pub(crate) fn read(file: &Path) -> Result<String, HostError> {
    std::fs::read_to_string(file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            HostError::MissingFile {
                file: file.to_path_buf(),
            }
        } else {
            HostError::Io {
                file: file.to_path_buf(),
                source: e,
            }
        }
    })
}

fn parse_json<T: for<'de> Deserialize<'de>>(file: &Path, text: &str) -> Result<T, HostError> {
    serde_json::from_str(text).map_err(|e| HostError::json(file, &e))
}

/// Loads a snapshot directory (see the module documentation).
pub fn load_snapshot(dir: &Path) -> Result<Netns, HostError> {
    load_snapshot_with_notes(dir).map(|(ns, _)| ns)
}

/// The warning when a snapshot holds neither `iptables.txt` nor `nft.json`.
pub const NF_NOT_RECORDED: &str = "SNAPSHOT: netfilter state not recorded (no iptables.txt or nft.json): packets are simulated as if no rules existed";

/// Loads a snapshot directory, and returns beside it the non-fatal notes
/// of loading (one line each, to print on stderr): rules and sets that are
/// not modelled, nft tables that iptables does not manage, netfilter
/// state that was not recorded.
pub fn load_snapshot_with_notes(dir: &Path) -> Result<(Netns, Vec<String>), HostError> {
    let f = |n: &str| dir.join(n);
    // Read everything first so that a missing file is reported before any
    // content error.
    let addr = read(&f("addr.json"))?;
    let route = read(&f("route.json"))?;
    let rule = read(&f("rule.json"))?;
    let sysctl = read(&f("sysctl.txt"))?;
    let optional = |n: &str| match read(&f(n)) {
        Ok(t) => Ok(Some(t)),
        Err(HostError::MissingFile { .. }) => Ok(None),
        Err(e) => Err(e),
    };
    let neigh = optional("neigh.json")?;
    let fdb = optional("fdb.json")?;
    let iptables = optional("iptables.txt")?;
    let iptables_legacy = optional("iptables-legacy.txt")?;
    let ipset = optional("ipset.txt")?;
    let nft = optional("nft.json")?;
    let mut ns = Netns::new();
    load_addr_json(&mut ns, &f("addr.json"), &addr)?;
    load_sysctl_txt(&mut ns, &f("sysctl.txt"), &sysctl)?;
    load_route_json(&mut ns, &f("route.json"), &route)?;
    load_rule_json(&mut ns, &f("rule.json"), &rule)?;
    ns.fib_recheck_nexthops();
    if let Some(n) = neigh {
        load_neigh_json(&mut ns, &f("neigh.json"), &n)?;
    }
    if let Some(t) = fdb {
        load_fdb_json(&mut ns, &f("fdb.json"), &t)?;
    }

    let mut nf = NfLoad::default();
    nf_sysctls(&mut nf, &sysctl);
    if let Some(t) = &ipset {
        nf.load_ipset(t, &f("ipset.txt"), 1)?;
    }
    if let Some(t) = &iptables {
        nf.load_iptables(t, &f("iptables.txt"), "iptables.txt", XtBackend::Nft, 1)?;
    }
    if let Some(t) = &iptables_legacy {
        nf.load_iptables(
            t,
            &f("iptables-legacy.txt"),
            "iptables-legacy.txt",
            XtBackend::Legacy,
            1,
        )?;
    }
    if nf.legacy_tables_present && iptables_legacy.is_none() {
        nf.warnings.push(format!(
            "{}: iptables-legacy tables are present but iptables-legacy.txt is not in the snapshot: packets are simulated without them",
            f("iptables.txt").display()
        ));
    }
    if let Some(t) = &nft {
        nf.check_nft_json(t, &f("nft.json"))?;
    }
    let mut notes = std::mem::take(&mut nf.warnings);
    if iptables.is_none() && nft.is_none() {
        ns.nf_recorded = false;
        notes.push(NF_NOT_RECORDED.to_string());
    }
    ns.nf = nf.into_netfilter().map(Box::new);
    Ok((ns, notes))
}

/// Feeds the `net.netfilter.*` and `net.bridge.*` lines of sysctl.txt to
/// the netfilter sysctls (the other keys are `load_sysctl_txt`'s).
pub(crate) fn nf_sysctls(nf: &mut NfLoad, text: &str) {
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.starts_with("net.netfilter.") || k.starts_with("net.bridge.") {
            nf.sysctl(k, v);
        }
    }
}

/// The ARP table from `ip -j -4 neigh show`: `dst`, `dev`, `lladdr` and
/// the `state` words (entries of unknown devices are an error; IPv6 ones
/// are skipped).
pub(crate) fn load_neigh_json(ns: &mut Netns, file: &Path, text: &str) -> Result<(), HostError> {
    use fwdsim_kernel::core::neighbour::{Neighbour, NudState};
    let entries: Vec<serde_json::Map<String, Value>> = parse_json(file, text)?;
    for e in entries {
        let Some(dst) = e.get("dst").and_then(Value::as_str) else {
            return Err(bad_value(file, "a neighbour without \"dst\"".into()));
        };
        let Ok(ip) = dst.parse::<std::net::Ipv4Addr>() else {
            continue;
        };
        let Some(dev) = e.get("dev").and_then(Value::as_str) else {
            return Err(bad_value(file, format!("neighbour {dst} without \"dev\"")));
        };
        let dev =
            ns.dev_by_name(dev)
                .map(|d| d.ifindex)
                .ok_or_else(|| HostError::UnknownDevice {
                    file: file.to_path_buf(),
                    name: dev.to_string(),
                })?;
        let lladdr = match e.get("lladdr").and_then(Value::as_str) {
            None => None,
            Some(m) => Some(
                crate::names::parse_mac(m)
                    .ok_or_else(|| bad_value(file, format!("neighbour {dst}: bad lladdr {m:?}")))?,
            ),
        };
        let state = e
            .get("state")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .find_map(NudState::from_word)
            })
            .unwrap_or(if lladdr.is_some() {
                NudState::NUD_REACHABLE
            } else {
                NudState::NUD_INCOMPLETE
            });
        ns.neigh.push(Neighbour::new(dev, ip, lladdr, state));
    }
    Ok(())
}

/// The bridges' FDB entries from `bridge -j -s fdb show`: those with a
/// `master` (the device's own `self` entries are not the bridge's), behind
/// port `ifname` or, when `ifname` is the bridge, its own. `state`
/// `permanent` is a local entry, `static` one that never ages, `""` one the
/// bridge learned `updated` seconds before the snapshot (it ages from
/// then); the `sticky` flag keeps an entry on its port. An entry whose
/// bridge or port the snapshot lacks is an error.
pub(crate) fn load_fdb_json(ns: &mut Netns, file: &Path, text: &str) -> Result<(), HostError> {
    use fwdsim_kernel::bridge::{FdbFlags, NetBridgeFdbEntry};
    let entries: Vec<serde_json::Map<String, Value>> = parse_json(file, text)?;
    for e in entries {
        let Some(master) = e.get("master").and_then(Value::as_str) else {
            continue;
        };
        let word = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
        let mac = word("mac");
        let addr = crate::names::parse_mac(mac)
            .ok_or_else(|| bad_value(file, format!("fdb entry with bad \"mac\" {mac:?}")))?;
        let dev_of = |name: &str| {
            ns.dev_by_name(name)
                .map(|d| d.ifindex)
                .ok_or_else(|| HostError::UnknownDevice {
                    file: file.to_path_buf(),
                    name: name.to_string(),
                })
        };
        let br = dev_of(master)?;
        if ns.dev(br).and_then(|d| d.bridge()).is_none() {
            return Err(bad_value(
                file,
                format!("fdb entry {mac}: master {master:?} is not a bridge"),
            ));
        }
        let port = match word("ifname") {
            n if n == master || n.is_empty() => None,
            n => Some(dev_of(n)?),
        };
        let mut flags = match word("state") {
            "permanent" => FdbFlags(FdbFlags::BR_FDB_LOCAL.0 | FdbFlags::BR_FDB_STATIC.0),
            "static" => FdbFlags::BR_FDB_STATIC,
            _ => FdbFlags(0),
        };
        let listed = |f: &str| {
            e.get("flags")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(f)))
        };
        if listed("sticky") {
            flags.0 |= FdbFlags::BR_FDB_STICKY.0;
        }
        if flags.0 != 0 {
            flags.0 |= FdbFlags::BR_FDB_ADDED_BY_USER.0;
        }
        let ago = |k: &str| {
            e.get(k)
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .saturating_mul(fwdsim_kernel::HZ)
        };
        let now = ns.jiffies;
        let entry = NetBridgeFdbEntry {
            addr,
            vlan_id: 0,
            dst: port,
            flags,
            updated: now.saturating_sub(ago("updated")),
            used: now.saturating_sub(ago("used")),
        };
        if let Some(b) = ns.dev_mut(br).and_then(|d| d.bridge_mut()) {
            b.fdb.retain(|x| x.addr != addr);
            b.fdb.push(entry);
        }
    }
    Ok(())
}

fn bad_addr(file: &Path, what: String) -> HostError {
    HostError::BadAddress {
        file: file.to_path_buf(),
        what,
    }
}

fn bad_value(file: &Path, what: String) -> HostError {
    HostError::BadValue {
        file: file.to_path_buf(),
        what,
    }
}

/// Devices and their IPv4 addresses from `ip -j addr show`.
pub(crate) fn load_addr_json(ns: &mut Netns, file: &Path, text: &str) -> Result<(), HostError> {
    let links: Vec<JLink> = parse_json(file, text)?;
    let mut seen_idx = std::collections::HashSet::new();
    let mut seen_name = std::collections::HashSet::new();
    for l in &links {
        if !seen_idx.insert(l.ifindex) {
            return Err(HostError::DuplicateIfindex {
                file: file.to_path_buf(),
                ifindex: l.ifindex,
            });
        }
        if !seen_name.insert(l.ifname.as_str()) {
            return Err(HostError::DuplicateDevice {
                file: file.to_path_buf(),
                name: l.ifname.clone(),
            });
        }
        let dev = link_to_device(file, l)?;
        ns.register_netdev(dev).map_err(|e| config(file, e))?;
    }
    // Masters, once every device is known. A port's `info_slave_kind`
    // tells its master's kind where the master's own linkinfo is missing.
    for l in &links {
        let Some(m) = &l.master else { continue };
        let Some(master) = ns.dev_by_name(m).map(|d| d.ifindex) else {
            return Err(HostError::UnknownDevice {
                file: file.to_path_buf(),
                name: m.clone(),
            });
        };
        if let Some(d) = ns.dev_mut(IfIndex(l.ifindex)) {
            d.master = Some(master);
        }
        // A master of unknown kind (`ip -j addr` names a port's master but
        // not the master's kind) is a bridge unless the port says otherwise
        // (`info_slave_kind` "bond", "team").
        let slave_kind = l.linkinfo.as_ref().and_then(|i| i.info_slave_kind.clone());
        if let Some(d) = ns.dev_mut(master)
            && matches!(d.kind, fwdsim_kernel::netns::DevKind::Ether)
            && slave_kind.as_deref().is_none_or(|k| k == "bridge")
        {
            d.kind = fwdsim_kernel::netns::DevKind::from_info_kind(Some("bridge"));
        }
        if ns.dev(master).is_some_and(|d| d.bridge().is_some()) {
            ns.br_add_if(master, IfIndex(l.ifindex))
                .map_err(|e| config(file, e))?;
        }
    }
    for l in &links {
        for a in &l.addr_info {
            if a.family.as_deref() != Some("inet") {
                continue;
            }
            let ifa = addr_to_ifaddr(file, &l.ifname, a)?;
            ns.inet_insert_ifa(IfIndex(l.ifindex), ifa, false)
                .map_err(|e| config(file, e))?;
        }
    }
    ns.resolve_rules();
    Ok(())
}

fn link_to_device(file: &Path, l: &JLink) -> Result<NetDevice, HostError> {
    let mut flags = 0u32;
    let mut no_carrier = false;
    for w in &l.flags {
        if w == "NO-CARRIER" {
            no_carrier = true;
        } else if w == "M-DOWN"
            || w == "ECHO"
            || w == "DYNAMIC"
            || w == "AUTOMEDIA"
            || w == "PORTSEL"
        {
            // Flags the model has no use for.
        } else if let Some(f) = DevFlags::from_word(w) {
            flags |= f.0;
        } else if let Ok(x) = u32::from_str_radix(w, 16) {
            flags |= x;
        } else {
            return Err(bad_value(
                file,
                format!(
                    "device {:?}: flag {w:?} is not one of iproute2's link flags",
                    l.ifname
                ),
            ));
        }
    }
    let up = flags & DevFlags::IFF_UP.0 != 0;
    let carrier = if up {
        !no_carrier && l.operstate.as_deref() != Some("DOWN")
    } else {
        flags & DevFlags::IFF_LOWER_UP.0 != 0
    };
    if up && carrier {
        flags |= DevFlags::IFF_RUNNING.0;
    }
    let link_type = LinkType::from_word(l.link_type.as_deref().unwrap_or("ether"));
    let mac = |s: &Option<String>, what: &str| -> Result<[u8; 6], HostError> {
        match s {
            None => Ok([0; 6]),
            Some(s) => match parse_mac(s) {
                Some(m) => Ok(m),
                // Non-Ethernet link layers (tunnels, InfiniBand) have other
                // address formats; the model keeps none for them.
                None if link_type != LinkType::Ether => Ok([0; 6]),
                None => Err(bad_addr(
                    file,
                    format!("device {:?}: {what} {s:?} is not a MAC address", l.ifname),
                )),
            },
        }
    };
    let group = match &l.group {
        None => 0,
        Some(g) => group_a2n(&g.text()).ok_or_else(|| {
            bad_value(
                file,
                format!(
                    "device {:?}: group {:?} (allowed: \"default\" or a number; the dumped host's /etc/iproute2/group names are unknown here)",
                    l.ifname,
                    g.text()
                ),
            )
        })?,
    };
    Ok(NetDevice {
        name: l.ifname.clone(),
        ifindex: IfIndex(l.ifindex),
        flags: DevFlags(flags),
        mtu: l.mtu.unwrap_or(1500),
        dev_addr: mac(&l.address, "address")?,
        broadcast: mac(&l.broadcast, "broadcast")?,
        link_type,
        group,
        carrier,
        ip_ptr: None,
        kind: fwdsim_kernel::netns::DevKind::from_info_kind(
            l.linkinfo.as_ref().and_then(|i| i.info_kind.as_deref()),
        ),
        master: None,
        brport: None,
    })
}

fn ipv4(file: &Path, what: &str, s: &str) -> Result<Ipv4Addr, HostError> {
    parse_ipv4(s).ok_or_else(|| bad_addr(file, format!("{what} {s:?} is not an IPv4 address")))
}

fn addr_to_ifaddr(file: &Path, dev: &str, a: &JAddr) -> Result<InIfaddr, HostError> {
    let local = a.local.as_deref().ok_or_else(|| {
        bad_addr(
            file,
            format!("device {dev:?}: an inet address without \"local\""),
        )
    })?;
    let what = format!("device {dev:?}: address");
    let ifa_local = ipv4(file, &what, local)?;
    let ifa_address = match &a.address {
        Some(p) => ipv4(file, &what, p)?,
        None => ifa_local,
    };
    let len = a.prefixlen.unwrap_or(32);
    if len > 32 {
        return Err(bad_addr(
            file,
            format!("{what} {local}/{len}: prefix length above 32"),
        ));
    }
    let ifa_broadcast = match &a.broadcast {
        Some(b) => ipv4(file, &format!("{what} {local}: broadcast"), b)?,
        None => Ipv4Addr::UNSPECIFIED,
    };
    let ifa_scope = match &a.scope {
        None => RtScope::RT_SCOPE_UNIVERSE,
        Some(s) => scope_a2n(&s.text())
            .ok_or_else(|| bad_value(file, format!("{what} {local}: scope {:?}", s.text())))?,
    };
    let mut flags = 0;
    if a.secondary {
        flags |= IfaFlags::IFA_F_SECONDARY.0;
    }
    if a.noprefixroute {
        flags |= IfaFlags::IFA_F_NOPREFIXROUTE.0;
    }
    if a.nodad {
        flags |= IfaFlags::IFA_F_NODAD.0;
    }
    if !a.dynamic {
        flags |= IfaFlags::IFA_F_PERMANENT.0;
    }
    Ok(InIfaddr {
        ifa_local,
        ifa_address,
        ifa_prefixlen: len,
        ifa_broadcast,
        ifa_scope,
        ifa_flags: IfaFlags(flags),
        ifa_label: a.label.clone().filter(|l| l != dev),
        ifa_rt_priority: a.metric.unwrap_or(0),
    })
}

pub(crate) fn config(file: &Path, e: ConfigError) -> HostError {
    match e {
        ConfigError::DuplicateIfindex(i) => HostError::DuplicateIfindex {
            file: file.to_path_buf(),
            ifindex: i,
        },
        ConfigError::DuplicateName(n) => HostError::DuplicateDevice {
            file: file.to_path_buf(),
            name: n,
        },
        ConfigError::UnknownDevice(n) => HostError::UnknownDevice {
            file: file.to_path_buf(),
            name: n,
        },
        ConfigError::UnknownSysctl(k) => HostError::UnknownSysctl {
            file: file.to_path_buf(),
            key: k,
        },
        ConfigError::Route(route, msg) => HostError::BadRoute {
            file: file.to_path_buf(),
            route,
            msg: msg.into(),
        },
        ConfigError::Rule(rule, msg) => HostError::BadRule {
            file: file.to_path_buf(),
            rule,
            msg: msg.into(),
        },
        e => HostError::Config {
            file: file.to_path_buf(),
            msg: e.to_string(),
        },
    }
}

/// Routes of every table from `ip -j -4 route show table all`, in file
/// order, appended (the kernel's order of routes that share a prefix is the
/// file's). IPv6 entries (a dump without `-4`) are skipped.
pub(crate) fn load_route_json(ns: &mut Netns, file: &Path, text: &str) -> Result<(), HostError> {
    let routes: Vec<Value> = parse_json(file, text)?;
    // A snapshot does not record the order routes were added in, and the
    // kernel resolves a gateway against the table as it is when the route
    // is added. The order assumed: the routes the kernel made for addresses,
    // then routes without a gateway, then routes with one (each group in the
    // dump's order), as a gateway is normally reachable before a route uses it.
    let is_kernel = |v: &Value| v.get("protocol").and_then(Value::as_str) == Some("kernel");
    let has_gw = |v: &Value| {
        v.get("gateway").is_some()
            || v.get("nexthops")
                .and_then(Value::as_array)
                .is_some_and(|n| n.iter().any(|h| h.get("gateway").is_some()))
    };
    let mut routes = routes;
    routes.sort_by_key(|v| (!is_kernel(v), has_gw(v)));
    for v in routes {
        let r: JRoute = serde_json::from_value(v.clone()).map_err(|e| HostError::BadRoute {
            file: file.to_path_buf(),
            route: v.to_string(),
            msg: e.to_string(),
        })?;
        if r.dst.contains(':') {
            continue;
        }
        let bad = |msg: String| HostError::BadRoute {
            file: file.to_path_buf(),
            route: v.to_string(),
            msg,
        };
        let spec = json_route_spec(ns, file, &r).map_err(|e| match e {
            RouteErr::Msg(m) => bad(m),
            RouteErr::Host(h) => h,
        })?;
        if spec.rt_type == RouteType::RTN_LOCAL && !is_ifaddr_local_route(ns, &spec) {
            // A local route the kernel did not make itself was added by a user.
            ns.fib.has_custom_local_routes = true;
        }
        ns.fib_table_insert(&spec, true).map_err(|e| match e {
            ConfigError::Route(_, m) => bad(m.to_string()),
            e => config(file, e),
        })?;
    }
    Ok(())
}

enum RouteErr {
    Msg(String),
    Host(HostError),
}

impl From<String> for RouteErr {
    fn from(s: String) -> Self {
        RouteErr::Msg(s)
    }
}

fn nh_flags(words: &[String]) -> Result<RtnhFlags, String> {
    let linkdown = words.iter().any(|w| w == "linkdown");
    let mut f = 0;
    for w in words {
        match w.as_str() {
            // A next hop reported dead and link-down is either on a device
            // that is down (the model derives that from the device) or on a
            // device that ignores link-down routes (the lookup applies
            // that): keep only a dead flag that stands alone.
            "dead" if linkdown => {}
            // Hardware offload states and `rt_*` flags are not routing state.
            "offload" | "trap" | "rt_offload" | "rt_trap" | "rt_offload_failed" | "notify" => {}
            w => match RtnhFlags::from_word(w) {
                Some(x) => f |= x.0,
                None => return Err(format!("flag {w:?} is not one of iproute2's route flags")),
            },
        }
    }
    Ok(RtnhFlags(f))
}

fn json_route_spec(ns: &Netns, file: &Path, r: &JRoute) -> Result<RouteSpec, RouteErr> {
    if r.nhid.is_some() {
        return Err("routes using nexthop objects (nhid) are not modelled"
            .to_string()
            .into());
    }
    if r.encap.is_some() {
        return Err("routes with an encapsulation (encap) are not modelled"
            .to_string()
            .into());
    }
    if r.via.is_some() {
        return Err("gateways of another family (via) are not modelled"
            .to_string()
            .into());
    }
    if r.src.is_some() {
        return Err("source-specific routes (from) are not modelled"
            .to_string()
            .into());
    }
    let rt_type = match &r.rt_type {
        None => RouteType::RTN_UNICAST,
        Some(t) => rtntype_a2n(t).ok_or_else(|| format!("type {t:?} is not a route type"))?,
    };
    let (dst, len) = if r.dst == "default" {
        (Ipv4Addr::UNSPECIFIED, 0)
    } else {
        let (a, l) = match r.dst.split_once('/') {
            Some((a, l)) => (a, l.parse::<u8>().ok().filter(|&l| l <= 32)),
            None => (r.dst.as_str(), Some(32)),
        };
        let a = parse_ipv4(a).ok_or_else(|| format!("dst {:?} is not an IPv4 prefix", r.dst))?;
        (
            a,
            l.ok_or_else(|| format!("dst {:?} is not an IPv4 prefix", r.dst))?,
        )
    };
    let mut spec = RouteSpec::new(rt_type, dst, len);
    spec.table = match &r.table {
        None => rt_table::RT_TABLE_MAIN,
        Some(t) => table_a2n(&t.text()).ok_or_else(|| {
            format!(
                "table {:?} (allowed: local, main, default or a number; the dumped host's /etc/iproute2/rt_tables names are unknown here)",
                t.text()
            )
        })?,
    };
    spec.protocol = match &r.protocol {
        None => RtProt::RTPROT_BOOT,
        Some(p) => {
            proto_a2n(&p.text()).ok_or_else(|| format!("protocol {:?} is unknown", p.text()))?
        }
    };
    spec.scope = Some(match &r.scope {
        None => RtScope::RT_SCOPE_UNIVERSE,
        Some(s) => {
            scope_a2n(&s.text()).ok_or_else(|| format!("scope {:?} is unknown", s.text()))?
        }
    });
    spec.tos = match &r.tos {
        None => 0,
        Some(t) => dsfield_a2n(t).ok_or_else(|| format!("tos {t:?} is not a dsfield"))?,
    };
    spec.priority = r.metric.unwrap_or(0);
    spec.prefsrc = match &r.prefsrc {
        None => None,
        Some(s) => {
            Some(parse_ipv4(s).ok_or_else(|| format!("prefsrc {s:?} is not an IPv4 address"))?)
        }
    };
    for m in &r.metrics {
        if let Some(mtu) = m.get("mtu") {
            spec.mtu = mtu
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| format!("metrics mtu {mtu} is not a number"))?;
        }
    }
    let dev = |name: &str| -> Result<IfIndex, RouteErr> {
        ns.dev_by_name(name).map(|d| d.ifindex).ok_or_else(|| {
            RouteErr::Host(HostError::UnknownDevice {
                file: file.to_path_buf(),
                name: name.to_string(),
            })
        })
    };
    let gw = |s: &Option<String>| -> Result<Option<Ipv4Addr>, RouteErr> {
        match s {
            None => Ok(None),
            Some(s) => {
                Ok(Some(parse_ipv4(s).ok_or_else(|| {
                    format!("gateway {s:?} is not an IPv4 address")
                })?))
            }
        }
    };
    if !r.nexthops.is_empty() {
        for n in &r.nexthops {
            if n.via.is_some() {
                return Err("gateways of another family (via) are not modelled"
                    .to_string()
                    .into());
            }
            spec.nexthops.push(NexthopSpec {
                gw: gw(&n.gateway)?,
                dev: match &n.dev {
                    Some(d) => Some(dev(d)?),
                    None => None,
                },
                weight: n.weight.unwrap_or(1),
                flags: nh_flags(&n.flags)?,
            });
        }
    } else if r.dev.is_some() || r.gateway.is_some() {
        spec.nexthops.push(NexthopSpec {
            gw: gw(&r.gateway)?,
            dev: match &r.dev {
                Some(d) => Some(dev(d)?),
                None => None,
            },
            weight: 1,
            flags: nh_flags(&r.flags)?,
        });
    }
    Ok(spec)
}

/// Whether a rule is one of the three a new namespace has.
fn is_default_rule(r: &FibRule) -> bool {
    let base = FibRule::lookup(r.pref, r.table);
    let plain = FibRule {
        protocol: r.protocol,
        ..base
    };
    *r == plain
        && matches!(r.protocol, RtProt::RTPROT_UNSPEC | RtProt::RTPROT_KERNEL)
        && matches!(
            (r.pref, r.table),
            (0, rt_table::RT_TABLE_LOCAL)
                | (32766, rt_table::RT_TABLE_MAIN)
                | (32767, rt_table::RT_TABLE_DEFAULT)
        )
}

/// Rules from `ip -j -4 rule show`. The three default rules alone leave the
/// namespace without custom rules; anything else (another rule, or a default
/// rule missing) means custom rules, and the model's rule list is exactly
/// the file's.
pub(crate) fn load_rule_json(ns: &mut Netns, file: &Path, text: &str) -> Result<(), HostError> {
    let jrules: Vec<Value> = parse_json(file, text)?;
    let mut rules = Vec::new();
    for v in jrules {
        let bad = |msg: String| HostError::BadRule {
            file: file.to_path_buf(),
            rule: v.to_string(),
            msg,
        };
        let j: JRule = serde_json::from_value(v.clone()).map_err(|e| bad(e.to_string()))?;
        if j.src.as_deref().is_some_and(|s| s.contains(':'))
            || j.dst.as_deref().is_some_and(|s| s.contains(':'))
        {
            continue;
        }
        rules.push(json_rule(&j).map_err(bad)?);
    }
    ns.fib_default_rules_init();
    let defaults_only = rules.len() == 3
        && rules.iter().all(is_default_rule)
        && rules.iter().map(|r| r.pref).eq([0, 32766, 32767]);
    if !defaults_only {
        ns.fib.rules.clear();
        for r in rules {
            let pref = r.pref;
            let desc = format!("pref {pref}");
            ns.fib_rule_add(r, Some(pref)).map_err(|e| match e {
                ConfigError::Rule(_, m) => HostError::BadRule {
                    file: file.to_path_buf(),
                    rule: desc,
                    msg: m.into(),
                },
                e => config(file, e),
            })?;
        }
        ns.fib.has_custom_rules = true;
    }
    ns.resolve_rules();
    Ok(())
}

fn prefix(addr: &str, len: Option<u8>, what: &str) -> Result<Option<(Ipv4Addr, u8)>, String> {
    if addr == "all" {
        return Ok(None);
    }
    let a = if addr == "0" {
        Ipv4Addr::UNSPECIFIED
    } else {
        parse_ipv4(addr).ok_or_else(|| format!("{what} {addr:?} is not an IPv4 address"))?
    };
    let l = len.unwrap_or(32);
    if l > 32 {
        return Err(format!("{what}len {l} is above 32"));
    }
    Ok(Some((a, l)))
}

fn json_rule(j: &JRule) -> Result<FibRule, String> {
    if j.tun_id.is_some() {
        return Err("tun_id rules are not modelled".into());
    }
    if j.nat.is_some() {
        return Err("nat rules are not modelled".into());
    }
    let _ = (&j.flow_to, &j.flow_from); // realms do not change routing decisions
    let mut r = FibRule::lookup(j.priority, 0);
    r.protocol = match &j.protocol {
        None => RtProt::RTPROT_UNSPEC,
        Some(p) => {
            proto_a2n(&p.text()).ok_or_else(|| format!("protocol {:?} is unknown", p.text()))?
        }
    };
    r.invert = j.not;
    r.src = match &j.src {
        None => None,
        Some(s) => prefix(s, j.srclen, "src")?,
    };
    r.dst = match &j.dst {
        None => None,
        Some(s) => prefix(s, j.dstlen, "dst")?,
    };
    if let Some(t) = &j.tos {
        r.tos = dsfield_a2n(t).ok_or_else(|| format!("tos {t:?} is not a dsfield"))?;
    }
    if let Some(d) = &j.dscp {
        r.dscp = Some(
            get_u32(&d.text())
                .and_then(|v| u8::try_from(v).ok())
                .filter(|&v| v < 64)
                .ok_or_else(|| format!("dscp {:?} is not 0..63", d.text()))?,
        );
    }
    if let Some(m) = &j.fwmark {
        r.mark = get_u32(m).ok_or_else(|| format!("fwmark {m:?} is not a number"))?;
        r.mark_mask = match &j.fwmask {
            Some(m) => get_u32(m).ok_or_else(|| format!("fwmask {m:?} is not a number"))?,
            None => u32::MAX,
        };
    }
    r.iifname = j.iif.clone();
    r.oifname = j.oif.clone();
    r.l3mdev = j.l3mdev;
    if let (Some(a), Some(b)) = (j.uid_start, j.uid_end) {
        r.uid_range = Some((a, b));
    }
    if let Some(p) = &j.ipproto {
        r.ip_proto = ipproto_a2n(p).ok_or_else(|| format!("ipproto {p:?} is unknown"))?;
    }
    r.sport = j.sport.map(|p| (p, p)).or(j.sport_start.zip(j.sport_end));
    r.dport = j.dport.map(|p| (p, p)).or(j.dport_start.zip(j.dport_end));
    if let Some(t) = &j.table {
        r.table = table_a2n(&t.text()).ok_or_else(|| {
            format!(
                "table {:?} (allowed: local, main, default or a number; the dumped host's /etc/iproute2/rt_tables names are unknown here)",
                t.text()
            )
        })?;
    }
    if let Some(p) = j.suppress_prefixlen {
        r.suppress_prefixlen = p;
    }
    if let Some(g) = &j.suppress_ifgroup {
        r.suppress_ifgroup = group_a2n(&g.text())
            .and_then(|g| i32::try_from(g).ok())
            .ok_or_else(|| {
                format!(
                    "suppress_ifgroup {:?} (allowed: \"default\" or a number)",
                    g.text()
                )
            })?;
    }
    r.action = if let Some(g) = &j.goto {
        r.target = match g {
            StrOrNum::N(n) => u32::try_from(*n).map_err(|_| format!("goto {n} is too large"))?,
            StrOrNum::S(s) => return Err(format!("goto {s:?} has no target")),
        };
        FibRuleAction::FR_ACT_GOTO
    } else if j.nop {
        FibRuleAction::FR_ACT_NOP
    } else if let Some(a) = &j.action {
        match a.as_str() {
            "blackhole" => FibRuleAction::FR_ACT_BLACKHOLE,
            "unreachable" => FibRuleAction::FR_ACT_UNREACHABLE,
            "prohibit" => FibRuleAction::FR_ACT_PROHIBIT,
            a => return Err(format!("action {a:?} is not modelled")),
        }
    } else {
        FibRuleAction::FR_ACT_TO_TBL
    };
    if r.protocol == RtProt::RTPROT_UNSPEC && is_default_rule(&r) {
        // The kernel made these itself (iproute2 hides protocol kernel).
        r.protocol = RtProt::RTPROT_KERNEL;
    }
    Ok(r)
}

/// Whether a `local` route is one `fib_add_ifaddr` makes for an address:
/// `proto kernel` in table local, and either the address itself (/32) on
/// its device, or a loopback device's address prefix. Anything else (even
/// written `proto kernel`) was added by a user.
fn is_ifaddr_local_route(ns: &Netns, spec: &fwdsim_kernel::netns::RouteSpec) -> bool {
    if spec.protocol != RtProt::RTPROT_KERNEL
        || spec.table != fwdsim_kernel::netns::rt_table::RT_TABLE_LOCAL
    {
        return false;
    }
    let Some(dev) = spec.nexthops.first().and_then(|n| n.dev) else {
        return false;
    };
    let Some(d) = ns.dev(dev) else {
        return false;
    };
    let loopback = d
        .flags
        .contains(fwdsim_kernel::uapi::DevFlags::IFF_LOOPBACK);
    d.ip_ptr.as_ref().is_some_and(|idev| {
        idev.ifa_list.iter().any(|a| {
            (spec.dst_len == 32 && a.ifa_local == spec.dst)
                || (loopback && a.ifa_prefixlen == spec.dst_len && a.prefix() == spec.dst)
        })
    })
}
