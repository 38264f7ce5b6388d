//! Prints a loaded host the way iproute2 6.1 prints the same kernel state:
//! `ip addr` / `ip -j addr` (IPv4 addresses only), `ip route show table all`
//! / `ip -j -4 route show table all` (same objects, key order, words and
//! route order as the kernel's dump), and `ip rule` / `ip -j -4 rule show`.
//!
//! Route order is the kernel's `inet_dump_fib`: tables by hash bucket
//! (`id & 255`), within a bucket the table created last first; in a table,
//! prefixes by address ascending, at one address the longer prefix first
//! (`fib_insert_alias` keeps a leaf's list by suffix length), and at one
//! prefix the aliases in their FIB order (TOS descending, metric ascending,
//! insertion). The model does not record when a table was created, so the
//! tables that share a bucket with `main`/`local`/`default` (ids above 255)
//! are assumed to be newer than them and among themselves newer when higher.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use fwdsim_kernel::Netns;
use fwdsim_kernel::core::fib_rules::{FibRule, FibRuleAction};
use fwdsim_kernel::ipv4::devinet::{IfaFlags, InIfaddr};
use fwdsim_kernel::ipv4::fib_semantics::FibInfo;
use fwdsim_kernel::ipv4::fib_trie::FibAlias;
use fwdsim_kernel::netns::{NetDevice, rt_table};
use fwdsim_kernel::uapi::{DevFlags, LinkType, RouteType, RtProt, RtScope, RtnhFlags};
use serde_json::{Map, Value, json};

use crate::names::{
    dsfield_n2a, group_n2a, ipproto_n2a, mac_str, prefix_str, proto_n2a, rtntype_n2a, scope_n2a,
    table_n2a,
};

/// The text `ip addr`, `ip route show table all` and `ip rule` would print
/// for this host, one after the other with a blank line between them.
/// Device lines leave out what the model does not keep (`qdisc`, `qlen`,
/// `link-netns`) and only IPv4 addresses are shown.
pub fn show_text(ns: &Netns) -> String {
    let mut out = String::new();
    for d in &ns.devices {
        addr_text(ns, d, &mut out);
    }
    out.push('\n');
    for (tb, prefix, len, fa) in routes_in_dump_order(ns) {
        route_text(ns, tb, prefix, len, fa, &mut out);
    }
    out.push('\n');
    for r in &ns.fib.rules {
        rule_text(r, &mut out);
    }
    out
}

/// `{"addr": [...], "route": [...], "rule": [...]}`: what `ip -j addr`,
/// `ip -j -4 route show table all` and `ip -j -4 rule show` would print for
/// this host, with iproute2's keys in iproute2's order. `route` and `rule`
/// are exactly iproute2's; `addr` leaves out what the model does not keep
/// (`qdisc`, `txqlen`, `link_index`, `link_netnsid`) and IPv6 addresses.
pub fn show_json(ns: &Netns) -> Value {
    let addr: Vec<Value> = ns.devices.iter().map(|d| addr_json(ns, d)).collect();
    let route: Vec<Value> = routes_in_dump_order(ns)
        .into_iter()
        .map(|(tb, p, l, fa)| route_json(ns, tb, p, l, fa))
        .collect();
    let rule: Vec<Value> = ns.fib.rules.iter().map(rule_json).collect();
    json!({"addr": addr, "route": route, "rule": rule})
}

// ---- devices and addresses ------------------------------------------------

/// iproute2's `print_link_flags` words, in its order.
fn link_flag_words(d: &NetDevice) -> Vec<&'static str> {
    let f = d.flags;
    let mut out = Vec::new();
    if d.is_up() && !d.carrier {
        out.push("NO-CARRIER");
    }
    for (flag, word) in [
        (DevFlags::IFF_LOOPBACK, "LOOPBACK"),
        (DevFlags::IFF_BROADCAST, "BROADCAST"),
        (DevFlags::IFF_POINTOPOINT, "POINTOPOINT"),
        (DevFlags::IFF_MULTICAST, "MULTICAST"),
        (DevFlags::IFF_NOARP, "NOARP"),
        (DevFlags::IFF_ALLMULTI, "ALLMULTI"),
        (DevFlags::IFF_PROMISC, "PROMISC"),
        (DevFlags::IFF_MASTER, "MASTER"),
        (DevFlags::IFF_SLAVE, "SLAVE"),
        (DevFlags::IFF_DEBUG, "DEBUG"),
        (DevFlags::IFF_NOTRAILERS, "NOTRAILERS"),
        (DevFlags::IFF_UP, "UP"),
        (DevFlags::IFF_LOWER_UP, "LOWER_UP"),
        (DevFlags::IFF_DORMANT, "DORMANT"),
    ] {
        if f.contains(flag) {
            out.push(word);
        }
    }
    out
}

/// `operstate` as the kernel reports it for the device's state.
fn operstate(d: &NetDevice) -> &'static str {
    if d.is_loopback() || d.link_type == LinkType::None {
        if d.is_up() { "UNKNOWN" } else { "DOWN" }
    } else if d.is_up() && d.carrier {
        "UP"
    } else {
        "DOWN"
    }
}

fn ifa_list(d: &NetDevice) -> &[InIfaddr] {
    d.ip_ptr
        .as_ref()
        .map(|i| i.ifa_list.as_slice())
        .unwrap_or(&[])
}

fn addr_json(ns: &Netns, d: &NetDevice) -> Value {
    let mut m = Map::new();
    m.insert("ifindex".into(), json!(d.ifindex.0));
    m.insert("ifname".into(), json!(d.name));
    m.insert("flags".into(), json!(link_flag_words(d)));
    m.insert("mtu".into(), json!(d.mtu));
    if let Some(master) = d.master {
        m.insert("master".into(), json!(ns.dev_name(master)));
    }
    m.insert("operstate".into(), json!(operstate(d)));
    m.insert("group".into(), json!(group_n2a(d.group)));
    m.insert("link_type".into(), json!(d.link_type.word()));
    if d.link_type != LinkType::None {
        m.insert("address".into(), json!(mac_str(&d.dev_addr)));
        m.insert("broadcast".into(), json!(mac_str(&d.broadcast)));
    }
    let infos: Vec<Value> = ifa_list(d)
        .iter()
        .map(|a| {
            let mut o = Map::new();
            o.insert("family".into(), json!("inet"));
            o.insert("local".into(), json!(a.ifa_local.to_string()));
            if a.ifa_address != a.ifa_local {
                o.insert("address".into(), json!(a.ifa_address.to_string()));
            }
            o.insert("prefixlen".into(), json!(a.ifa_prefixlen));
            if a.ifa_rt_priority != 0 {
                o.insert("metric".into(), json!(a.ifa_rt_priority));
            }
            if !a.ifa_broadcast.is_unspecified() {
                o.insert("broadcast".into(), json!(a.ifa_broadcast.to_string()));
            }
            o.insert("scope".into(), json!(scope_n2a(a.ifa_scope)));
            for (w, _) in ifa_flag_words(a) {
                o.insert(w.into(), json!(true));
            }
            o.insert(
                "label".into(),
                json!(a.ifa_label.as_deref().unwrap_or(&d.name)),
            );
            o.insert("valid_life_time".into(), json!(u32::MAX));
            o.insert("preferred_life_time".into(), json!(u32::MAX));
            Value::Object(o)
        })
        .collect();
    m.insert("addr_info".into(), Value::Array(infos));
    Value::Object(m)
}

/// `print_ifa_flags` for the flags the model keeps.
fn ifa_flag_words(a: &InIfaddr) -> Vec<(&'static str, ())> {
    let mut out = Vec::new();
    if a.ifa_flags.contains(IfaFlags::IFA_F_SECONDARY) {
        out.push(("secondary", ()));
    }
    if a.ifa_flags.contains(IfaFlags::IFA_F_NODAD) {
        out.push(("nodad", ()));
    }
    if a.ifa_flags.contains(IfaFlags::IFA_F_NOPREFIXROUTE) {
        out.push(("noprefixroute", ()));
    }
    if !a.ifa_flags.contains(IfaFlags::IFA_F_PERMANENT) {
        out.push(("dynamic", ()));
    }
    out
}

fn addr_text(ns: &Netns, d: &NetDevice, out: &mut String) {
    // iproute2 prints `master NAME` between the qdisc and the state.
    let master = d
        .master
        .map_or(String::new(), |m| format!(" master {}", ns.dev_name(m)));
    let _ = writeln!(
        out,
        "{}: {}: <{}> mtu {}{master} state {} group {}",
        d.ifindex.0,
        d.name,
        link_flag_words(d).join(","),
        d.mtu,
        operstate(d),
        group_n2a(d.group)
    );
    if d.link_type != LinkType::None {
        let _ = writeln!(
            out,
            "    link/{} {} brd {}",
            d.link_type.word(),
            mac_str(&d.dev_addr),
            mac_str(&d.broadcast)
        );
    } else {
        out.push_str("    link/none \n");
    }
    for a in ifa_list(d) {
        out.push_str("    inet ");
        out.push_str(&a.ifa_local.to_string());
        if a.ifa_address != a.ifa_local {
            let _ = write!(out, " peer {}", a.ifa_address);
        }
        let _ = write!(out, "/{} ", a.ifa_prefixlen);
        if a.ifa_rt_priority != 0 {
            let _ = write!(out, "metric {} ", a.ifa_rt_priority);
        }
        if !a.ifa_broadcast.is_unspecified() {
            let _ = write!(out, "brd {} ", a.ifa_broadcast);
        }
        let _ = write!(out, "scope {} ", scope_n2a(a.ifa_scope));
        for (w, _) in ifa_flag_words(a) {
            let _ = write!(out, "{w} ");
        }
        out.push_str(a.ifa_label.as_deref().unwrap_or(&d.name));
        out.push_str("\n       valid_lft forever preferred_lft forever\n");
    }
}

// ---- routes ---------------------------------------------------------------

/// Every route of every table, in the order `ip route show table all` lists
/// them (see the module documentation).
pub(crate) fn routes_in_dump_order(ns: &Netns) -> Vec<(u32, Ipv4Addr, u8, &FibAlias)> {
    let mut ids: Vec<u32> = ns.fib.tables.keys().copied().collect();
    ids.sort_by_key(|&id| (id & 0xff, id <= 0xff, std::cmp::Reverse(id)));
    let mut out = Vec::new();
    for id in ids {
        let t = &ns.fib.tables[&id];
        let mut v: Vec<(Ipv4Addr, u8, &FibAlias)> =
            t.iter().filter(|(_, _, fa)| fa.tb_id == id).collect();
        v.sort_by_key(|(p, l, _)| (u32::from(*p), std::cmp::Reverse(*l)));
        out.extend(v.into_iter().map(|(p, l, fa)| (id, p, l, fa)));
    }
    out
}

/// `print_rt_flags` words for a next hop (`fib_nexthop_info`: a link-down
/// next hop through a device that ignores such routes is reported dead too).
fn nh_flag_words(
    ns: &Netns,
    flags: RtnhFlags,
    dev: Option<fwdsim_kernel::IfIndex>,
) -> Vec<&'static str> {
    let linkdown = flags.contains(RtnhFlags::RTNH_F_LINKDOWN);
    let dead = flags.contains(RtnhFlags::RTNH_F_DEAD)
        || (linkdown && dev.is_some_and(|d| ns.ip_ignore_linkdown(d)));
    let mut out = Vec::new();
    if dead {
        out.push("dead");
    }
    for (f, w) in [
        (RtnhFlags::RTNH_F_ONLINK, "onlink"),
        (RtnhFlags::RTNH_F_PERVASIVE, "pervasive"),
        (RtnhFlags::RTNH_F_OFFLOAD, "offload"),
        (RtnhFlags::RTNH_F_TRAP, "trap"),
        (RtnhFlags::RTNH_F_LINKDOWN, "linkdown"),
        (RtnhFlags::RTNH_F_UNRESOLVED, "unresolved"),
    ] {
        if flags.contains(f) {
            out.push(w);
        }
    }
    out
}

/// What one route prints, computed once for text and JSON.
struct RouteView {
    rt_type: Option<String>,
    dst: String,
    tos: Option<String>,
    gateway: Option<Ipv4Addr>,
    dev: Option<String>,
    table: Option<String>,
    protocol: Option<String>,
    scope: Option<String>,
    prefsrc: Option<Ipv4Addr>,
    metric: Option<u32>,
    flags: Vec<&'static str>,
    mtu: Option<(u32, bool)>,
    nexthops: Vec<(Option<Ipv4Addr>, String, u32, Vec<&'static str>)>,
}

fn route_view(ns: &Netns, tb: u32, prefix: Ipv4Addr, len: u8, fa: &FibAlias) -> RouteView {
    let fi: &FibInfo = ns.fib.info(fa.fa_info);
    let single = fi.fib_nh.len() == 1;
    let nh0 = fi.fib_nh.first().filter(|_| single);
    RouteView {
        rt_type: (fa.fa_type != RouteType::RTN_UNICAST).then(|| rtntype_n2a(fa.fa_type)),
        dst: prefix_str(prefix, len),
        tos: (fa.fa_dscp != 0).then(|| dsfield_n2a(fa.fa_dscp)),
        gateway: nh0.and_then(|n| n.nh_gw),
        dev: nh0.map(|n| ns.dev_name(n.nh_dev).to_string()),
        table: (tb != rt_table::RT_TABLE_MAIN).then(|| table_n2a(tb)),
        protocol: (fi.fib_protocol != RtProt::RTPROT_BOOT).then(|| proto_n2a(fi.fib_protocol)),
        scope: (fi.fib_scope != RtScope::RT_SCOPE_UNIVERSE).then(|| scope_n2a(fi.fib_scope)),
        prefsrc: fi.fib_prefsrc,
        metric: (fi.fib_priority != 0).then_some(fi.fib_priority),
        flags: match nh0 {
            Some(n) => nh_flag_words(ns, n.nh_flags, Some(n.nh_dev)),
            None => nh_flag_words(ns, fi.fib_flags, None),
        },
        mtu: (fi.fib_mtu != 0).then_some((fi.fib_mtu, fi.fib_mtu_locked)),
        nexthops: if single {
            Vec::new()
        } else {
            fi.fib_nh
                .iter()
                .map(|n| {
                    (
                        n.nh_gw,
                        ns.dev_name(n.nh_dev).to_string(),
                        n.nh_weight,
                        nh_flag_words(ns, n.nh_flags, Some(n.nh_dev)),
                    )
                })
                .collect()
        },
    }
}

fn route_json(ns: &Netns, tb: u32, prefix: Ipv4Addr, len: u8, fa: &FibAlias) -> Value {
    let v = route_view(ns, tb, prefix, len, fa);
    let mut m = Map::new();
    if let Some(t) = v.rt_type {
        m.insert("type".into(), json!(t));
    }
    m.insert("dst".into(), json!(v.dst));
    if let Some(t) = v.tos {
        m.insert("tos".into(), json!(t));
    }
    if let Some(g) = v.gateway {
        m.insert("gateway".into(), json!(g.to_string()));
    }
    if let Some(d) = v.dev {
        m.insert("dev".into(), json!(d));
    }
    if let Some(t) = v.table {
        m.insert("table".into(), json!(t));
    }
    if let Some(p) = v.protocol {
        m.insert("protocol".into(), json!(p));
    }
    if let Some(s) = v.scope {
        m.insert("scope".into(), json!(s));
    }
    if let Some(s) = v.prefsrc {
        m.insert("prefsrc".into(), json!(s.to_string()));
    }
    if let Some(x) = v.metric {
        m.insert("metric".into(), json!(x));
    }
    m.insert("flags".into(), json!(v.flags));
    if let Some((mtu, _)) = v.mtu {
        // iproute2 6.1 does not show `lock` in JSON.
        m.insert("metrics".into(), json!([{"mtu": mtu}]));
    }
    if !v.nexthops.is_empty() {
        let nhs: Vec<Value> = v
            .nexthops
            .into_iter()
            .map(|(gw, dev, w, flags)| {
                let mut o = Map::new();
                if let Some(g) = gw {
                    o.insert("gateway".into(), json!(g.to_string()));
                }
                o.insert("dev".into(), json!(dev));
                o.insert("weight".into(), json!(w));
                o.insert("flags".into(), json!(flags));
                Value::Object(o)
            })
            .collect();
        m.insert("nexthops".into(), Value::Array(nhs));
    }
    Value::Object(m)
}

fn route_text(ns: &Netns, tb: u32, prefix: Ipv4Addr, len: u8, fa: &FibAlias, out: &mut String) {
    let v = route_view(ns, tb, prefix, len, fa);
    if let Some(t) = &v.rt_type {
        let _ = write!(out, "{t} ");
    }
    let _ = write!(out, "{} ", v.dst);
    if let Some(t) = &v.tos {
        let _ = write!(out, "tos {t} ");
    }
    if let Some(g) = v.gateway {
        let _ = write!(out, "via {g} ");
    }
    if let Some(d) = &v.dev {
        let _ = write!(out, "dev {d} ");
    }
    if let Some(t) = &v.table {
        let _ = write!(out, "table {t} ");
    }
    if let Some(p) = &v.protocol {
        let _ = write!(out, "proto {p} ");
    }
    if let Some(s) = &v.scope {
        let _ = write!(out, "scope {s} ");
    }
    if let Some(s) = v.prefsrc {
        let _ = write!(out, "src {s} ");
    }
    if let Some(x) = v.metric {
        let _ = write!(out, "metric {x} ");
    }
    for f in &v.flags {
        let _ = write!(out, "{f} ");
    }
    if let Some((mtu, lock)) = v.mtu {
        let _ = write!(out, "mtu {}{mtu} ", if lock { "lock " } else { "" });
    }
    for (gw, dev, w, flags) in &v.nexthops {
        out.push_str("\n\tnexthop ");
        if let Some(g) = gw {
            let _ = write!(out, "via {g} ");
        }
        let _ = write!(out, "dev {dev} weight {w} ");
        for f in flags {
            let _ = write!(out, "{f} ");
        }
    }
    out.push('\n');
}

// ---- rules ----------------------------------------------------------------

/// `print_0xhex`: `%#llx` (so zero prints as `0`).
fn hex(v: u32) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// What a rule prints, in `print_rule`'s order, as (JSON key, JSON value,
/// text). `Value::Null` keys are iproute2's `print_null` flags.
fn rule_items(r: &FibRule) -> Vec<(&'static str, Value, String)> {
    let mut v: Vec<(&'static str, Value, String)> = Vec::new();
    v.push(("priority", json!(r.pref), format!("{}:\t", r.pref)));
    if r.invert {
        v.push(("not", Value::Null, "not ".into()));
    }
    match r.src {
        Some((a, l)) => {
            v.push(("src", json!(a.to_string()), format!("from {a}")));
            if l != 32 {
                v.push(("srclen", json!(l), format!("/{l}")));
            }
        }
        None => v.push(("src", json!("all"), "from all".into())),
    }
    if let Some((a, l)) = r.dst {
        v.push(("dst", json!(a.to_string()), format!(" to {a}")));
        if l != 32 {
            v.push(("dstlen", json!(l), format!("/{l}")));
        }
    }
    if r.tos != 0 {
        let t = dsfield_n2a(r.tos);
        v.push(("tos", json!(t), format!(" tos {t}")));
    }
    if let Some(d) = r.dscp {
        v.push(("dscp", json!(d.to_string()), format!(" dscp {d}")));
    }
    if r.mark != 0 || r.mark_mask != 0 {
        v.push((
            "fwmark",
            json!(hex(r.mark)),
            format!(" fwmark {}", hex(r.mark)),
        ));
        if r.mark_mask != u32::MAX {
            v.push((
                "fwmask",
                json!(hex(r.mark_mask)),
                format!("/{}", hex(r.mark_mask)),
            ));
        }
    }
    if let Some(n) = &r.iifname {
        v.push(("iif", json!(n), format!(" iif {n}")));
        if r.iif_detached() {
            v.push(("iif_detached", Value::Null, " [detached]".into()));
        }
    }
    if let Some(n) = &r.oifname {
        v.push(("oif", json!(n), format!(" oif {n}")));
        if r.oif_detached() {
            v.push(("oif_detached", Value::Null, " [detached]".into()));
        }
    }
    if r.l3mdev {
        v.push(("l3mdev", Value::Null, " lookup [l3mdev-table]".into()));
    }
    if let Some((a, b)) = r.uid_range {
        v.push(("uid_start", json!(a), format!(" uidrange {a}")));
        v.push(("uid_end", json!(b), format!("-{b}")));
    }
    if r.ip_proto != 0 {
        let p = ipproto_n2a(r.ip_proto);
        v.push(("ipproto", json!(p), format!(" ipproto {p}")));
    }
    for (name, range, start, end) in [
        ("sport", r.sport, "sport_start", "sport_end"),
        ("dport", r.dport, "dport_start", "dport_end"),
    ] {
        if let Some((a, b)) = range {
            if a == b {
                v.push((name, json!(a), format!(" {name} {a}")));
            } else {
                v.push((start, json!(a), format!(" {name} {a}")));
                v.push((end, json!(b), format!("-{b}")));
            }
        }
    }
    if r.table != 0 {
        let t = table_n2a(r.table);
        v.push(("table", json!(t), format!(" lookup {t}")));
        if r.suppress_prefixlen != -1 {
            v.push((
                "suppress_prefixlen",
                json!(r.suppress_prefixlen),
                format!(" suppress_prefixlength {}", r.suppress_prefixlen),
            ));
        }
        if r.suppress_ifgroup != -1 {
            let g = group_n2a(r.suppress_ifgroup as u32);
            v.push((
                "suppress_ifgroup",
                json!(g),
                format!(" suppress_ifgroup {g}"),
            ));
        }
    }
    match r.action {
        FibRuleAction::FR_ACT_GOTO => {
            v.push(("goto", json!(r.target), format!(" goto {}", r.target)));
            if r.ctarget.is_none() {
                v.push(("unresolved", Value::Null, " [unresolved]".into()));
            }
        }
        FibRuleAction::FR_ACT_NOP => v.push(("nop", Value::Null, " nop".into())),
        FibRuleAction::FR_ACT_TO_TBL => {}
        a => v.push(("action", json!(a.word()), format!(" {}", a.word()))),
    }
    if r.protocol != RtProt::RTPROT_UNSPEC && r.protocol != RtProt::RTPROT_KERNEL {
        let p = proto_n2a(r.protocol);
        v.push(("protocol", json!(p), format!(" proto {p}")));
    }
    v
}

fn rule_json(r: &FibRule) -> Value {
    let mut m = Map::new();
    for (k, val, _) in rule_items(r) {
        m.insert(k.into(), val);
    }
    Value::Object(m)
}

fn rule_text(r: &FibRule, out: &mut String) {
    for (_, _, t) in rule_items(r) {
        out.push_str(&t);
    }
    out.push('\n');
}
