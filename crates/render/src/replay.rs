//! `fwdsim replay` output: one JSON object per packet (JSON Lines, contract
//! section 3), the final `{"snmp": ...}` object with the counters the replay
//! changed, and the readable table with its summary.

use std::collections::BTreeMap;
use std::fmt::Write;

use fwdsim_kernel::Netns;
use fwdsim_kernel::core::dev::RxOutcome;
use fwdsim_kernel::ipv4::snmp::IpMib;
use fwdsim_kernel::uapi::RouteType;
use serde_json::{Map, Value, json};

/// The `route` member of a packet's object: type, device and gateway.
pub fn route_json(ns: &Netns, o: &RxOutcome) -> Value {
    match &o.route {
        None => Value::Null,
        Some(rt) => json!({
            "type": rt.rt_type.word().unwrap_or("unknown"),
            "dev": ns.dev_name(rt.dst.dev),
            "gateway": if rt.rt_uses_gateway { json!(rt.rt_gw4.to_string()) } else { Value::Null },
        }),
    }
}

/// One packet as a JSON object (contract keys, in order).
pub fn packet_json(ns: &Netns, index: u64, iif: &str, o: &RxOutcome) -> Value {
    let mut m = Map::new();
    m.insert("index".into(), json!(index));
    m.insert("iif".into(), json!(iif));
    m.insert("verdict".into(), json!(o.verdict.word()));
    m.insert(
        "drop_reason".into(),
        o.drop_reason.map_or(Value::Null, |r| json!(r.name())),
    );
    m.insert("route".into(), route_json(ns, o));
    m.insert(
        "icmp".into(),
        o.icmp.map_or(
            Value::Null,
            |i| json!({"type": i.icmp_type, "code": i.code}),
        ),
    );
    Value::Object(m)
}

/// The counters that changed between `before` and `after`, by group, named
/// as /proc/net/snmp and /proc/net/netstat name them.
pub fn snmp_delta(before: &IpMib, after: &IpMib) -> Value {
    let mut groups = Map::new();
    let mut add = |name: &str, b: Vec<(&'static str, u64)>, a: Vec<(&'static str, u64)>| {
        let mut m = Map::new();
        for ((k, vb), (_, va)) in b.into_iter().zip(a) {
            if va != vb {
                m.insert(k.into(), json!(va - vb));
            }
        }
        if !m.is_empty() {
            groups.insert(name.into(), Value::Object(m));
        }
    };
    add(
        "Ip",
        before.ip.entries().to_vec(),
        after.ip.entries().to_vec(),
    );
    add(
        "IpExt",
        before.ip_ext.entries().to_vec(),
        after.ip_ext.entries().to_vec(),
    );
    add(
        "Icmp",
        before.icmp.entries().to_vec(),
        after.icmp.entries().to_vec(),
    );
    add(
        "IcmpMsg",
        before.icmp_msg.entries().to_vec(),
        after.icmp_msg.entries().to_vec(),
    );
    add(
        "TcpExt",
        before.tcp_ext.entries().to_vec(),
        after.tcp_ext.entries().to_vec(),
    );
    add(
        "Udp",
        before.udp.entries().to_vec(),
        after.udp.entries().to_vec(),
    );
    add(
        "Tcp",
        before.tcp.entries().to_vec(),
        after.tcp.entries().to_vec(),
    );
    for (t, n) in &after.icmp_in_other {
        let b = before.icmp_in_other.get(t).copied().unwrap_or(0);
        if *n != b {
            let g = groups
                .entry("IcmpMsg")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = g {
                m.insert(format!("InType{t}"), json!(n - b));
            }
        }
    }
    json!({ "snmp": Value::Object(groups) })
}

/// The closing object of a replay: `snmp` (the changed counters of
/// /proc/net/snmp and /proc/net/netstat, as `snmp_delta`), plus `rt_cache`
/// (the changed columns of /proc/net/stat/rt_cache) and `devices` (per
/// device counters that changed: `rx_dropped`, `otherhost_dropped`) when
/// any did.
pub fn closing_object(
    ns: &Netns,
    before: &IpMib,
    rt_before: &fwdsim_kernel::ipv4::snmp::RtCacheStat,
    dev_before: &std::collections::BTreeMap<fwdsim_kernel::IfIndex, fwdsim_kernel::netns::DevStats>,
) -> Value {
    let mut v = snmp_delta(before, &ns.mib);
    let obj = v.as_object_mut().expect("an object");
    let mut rc = Map::new();
    for ((k, b), (_, a)) in rt_before
        .entries()
        .into_iter()
        .zip(ns.rt_cache_stat.entries())
    {
        if a != b {
            rc.insert(k.into(), json!(a - b));
        }
    }
    if !rc.is_empty() {
        obj.insert("rt_cache".into(), Value::Object(rc));
    }
    let mut devs = Map::new();
    for (dev, n) in &ns.dev_stats {
        let b = dev_before.get(dev).copied().unwrap_or_default();
        let mut d = Map::new();
        if n.rx_dropped != b.rx_dropped {
            d.insert("rx_dropped".into(), json!(n.rx_dropped - b.rx_dropped));
        }
        if n.rx_otherhost_dropped != b.rx_otherhost_dropped {
            d.insert(
                "otherhost_dropped".into(),
                json!(n.rx_otherhost_dropped - b.rx_otherhost_dropped),
            );
        }
        if !d.is_empty() {
            devs.insert(ns.dev_name(*dev).into(), Value::Object(d));
        }
    }
    if !devs.is_empty() {
        obj.insert("devices".into(), Value::Object(devs));
    }
    v
}

/// The header of the readable table.
pub fn table_header() -> String {
    format!(
        "{:>6}  {:<10} {:<8} {:<22} {:<36} {}\n",
        "#", "iif", "verdict", "drop_reason", "route", "icmp"
    )
}

/// One packet as a line of the readable table.
pub fn table_row(ns: &Netns, index: u64, iif: &str, o: &RxOutcome) -> String {
    table_row_styled(ns, index, iif, o, false)
}

/// One packet as a line of the readable table, the verdict coloured (green
/// forward, blue local, red drop) when `colour` is set.
pub fn table_row_styled(ns: &Netns, index: u64, iif: &str, o: &RxOutcome, colour: bool) -> String {
    let route = match &o.route {
        None => "-".to_string(),
        Some(rt) => {
            let mut s = String::new();
            if rt.rt_type != RouteType::RTN_UNICAST {
                let _ = write!(s, "{} ", rt.rt_type.word().unwrap_or("?"));
            }
            if rt.rt_uses_gateway {
                let _ = write!(s, "via {} ", rt.rt_gw4);
            }
            let _ = write!(s, "dev {}", ns.dev_name(rt.dst.dev));
            s
        }
    };
    let icmp = o
        .icmp
        .map_or("-".to_string(), |i| format!("{}/{}", i.icmp_type, i.code));
    let verdict = format!("{:<8}", o.verdict.word());
    let verdict = if colour {
        let code = match o.verdict {
            fwdsim_kernel::core::dev::Verdict::Forward => "32",
            fwdsim_kernel::core::dev::Verdict::Local => "34",
            fwdsim_kernel::core::dev::Verdict::Drop => "31",
            fwdsim_kernel::core::dev::Verdict::Queued => "33",
            fwdsim_kernel::core::dev::Verdict::Bridged => "36",
        };
        format!("\x1b[{code}m{verdict}\x1b[0m")
    } else {
        verdict
    };
    format!(
        "{:>6}  {:<10} {} {:<22} {:<36} {}\n",
        index,
        iif,
        verdict,
        o.drop_reason.map_or("-", |r| r.name()),
        route,
        icmp
    )
}

/// Totals of a replay for the summary.
#[derive(Debug, Default)]
pub struct Summary {
    /// Packets by verdict word.
    pub verdicts: BTreeMap<&'static str, u64>,
    /// Dropped packets by reason.
    pub reasons: BTreeMap<&'static str, u64>,
}

impl Summary {
    /// Counts one packet.
    pub fn add(&mut self, o: &RxOutcome) {
        *self.verdicts.entry(o.verdict.word()).or_default() += 1;
        if let Some(r) = o.drop_reason {
            *self.reasons.entry(r.name()).or_default() += 1;
        }
    }

    /// The summary lines.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let total: u64 = self.verdicts.values().sum();
        let _ = writeln!(s, "{total} packets");
        for (v, n) in &self.verdicts {
            let _ = writeln!(s, "  {v}: {n}");
        }
        for (r, n) in &self.reasons {
            let _ = writeln!(s, "  drop {r}: {n}");
        }
        s
    }
}
