//! Counters of `/proc/net/snmp` and `/proc/net/netstat` (pairs of lines
//! `Group: Name Name...` / `Group: value value...`), their deltas, and the
//! `{"snmp": {...}}` object of `fwdsim replay -j` in the same shape.

use std::collections::BTreeMap;

use serde_json::Value;

/// Group (`Ip`, `IpExt`, `Icmp`...) -> counter name -> value (or delta).
pub type Counters = BTreeMap<String, BTreeMap<String, i64>>;

/// The groups compared with fwdsim: the IPv4 input path's and ICMP's.
/// `TcpExt` is compared on [`TCPEXT_COMPARED`] only; `Tcp`, `Udp`,
/// `UdpLite`, `MPTcpExt` (the transports, which fwdsim does not model)
/// are not compared.
pub const GROUPS_COMPARED: &[&str] = &["Ip", "IpExt", "Icmp", "IcmpMsg"];

/// The `TcpExt` counters the IPv4 input path itself changes.
pub const TCPEXT_COMPARED: &[&str] = &["IPReversePathFilter"];

/// Values in `Ip` that are settings, not counters.
const NOT_COUNTERS: &[(&str, &str)] = &[("Ip", "Forwarding"), ("Ip", "DefaultTTL")];

/// Parses the text of /proc/net/snmp or /proc/net/netstat.
pub fn parse_proc(text: &str) -> Counters {
    let mut out = Counters::new();
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some((g1, names)), Some((g2, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        if g1 != g2 {
            continue;
        }
        let group = out.entry(g1.trim().to_string()).or_default();
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = v.parse::<i64>() {
                group.insert(n.to_string(), v);
            }
        }
    }
    out
}

/// `after - before` for every counter that changed (a counter missing on
/// one side counts as 0: `IcmpMsg` lists only the types seen so far).
pub fn delta(before: &Counters, after: &Counters) -> Counters {
    let mut out = Counters::new();
    let groups: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for g in groups {
        let empty = BTreeMap::new();
        let b = before.get(g).unwrap_or(&empty);
        let a = after.get(g).unwrap_or(&empty);
        let names: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        for n in names {
            if NOT_COUNTERS.contains(&(g.as_str(), n.as_str())) {
                continue;
            }
            let d = a.get(n).copied().unwrap_or(0) - b.get(n).copied().unwrap_or(0);
            if d != 0 {
                out.entry(g.clone()).or_default().insert(n.clone(), d);
            }
        }
    }
    out
}

/// Adds `d` into `acc`.
pub fn add(acc: &mut Counters, d: &Counters) {
    for (g, m) in d {
        let e = acc.entry(g.clone()).or_default();
        for (n, v) in m {
            *e.entry(n.clone()).or_default() += v;
        }
        e.retain(|_, v| *v != 0);
    }
    acc.retain(|_, m| !m.is_empty());
}

/// Only the compared counters ([`GROUPS_COMPARED`], [`TCPEXT_COMPARED`]).
pub fn compared(c: &Counters) -> Counters {
    let mut out = Counters::new();
    for (g, m) in c {
        let keep: BTreeMap<String, i64> = m
            .iter()
            .filter(|(n, v)| {
                **v != 0
                    && (GROUPS_COMPARED.contains(&g.as_str())
                        || (g == "TcpExt" && TCPEXT_COMPARED.contains(&n.as_str())))
            })
            .map(|(n, v)| (n.clone(), *v))
            .collect();
        if !keep.is_empty() {
            out.insert(g.clone(), keep);
        }
    }
    out
}

/// The `snmp` member of fwdsim's last line, `{"Ip": {"InReceives": 3}, ...}`.
pub fn from_json(v: &Value) -> Option<Counters> {
    let mut out = Counters::new();
    for (g, m) in v.as_object()? {
        let group = out.entry(g.clone()).or_default();
        for (n, x) in m.as_object()? {
            group.insert(n.clone(), x.as_i64()?);
        }
    }
    out.retain(|_, m| !m.is_empty());
    Some(out)
}

/// `(group.name, kernel, fwdsim)` for every counter whose values differ.
pub fn differences(kernel: &Counters, fwdsim: &Counters) -> Vec<(String, i64, i64)> {
    let d = delta(fwdsim, kernel);
    let mut out = Vec::new();
    for (g, m) in &d {
        for n in m.keys() {
            let k = kernel.get(g).and_then(|x| x.get(n)).copied().unwrap_or(0);
            let f = fwdsim.get(g).and_then(|x| x.get(n)).copied().unwrap_or(0);
            out.push((format!("{g}.{n}"), k, f));
        }
    }
    out
}

/// `Ip.InReceives +1, IpExt.InOctets +52, ...`.
pub fn render(c: &Counters) -> String {
    let mut v = Vec::new();
    for (g, m) in c {
        for (n, x) in m {
            v.push(format!("{g}.{n} {x:+}"));
        }
    }
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_delta_compare() {
        let a = parse_proc(
            "Ip: Forwarding DefaultTTL InReceives InHdrErrors\nIp: 1 64 10 2\nIcmpMsg: InType8\nIcmpMsg: 1\n",
        );
        let b = parse_proc(
            "Ip: Forwarding DefaultTTL InReceives InHdrErrors\nIp: 2 64 12 2\nIcmpMsg: InType8 OutType0\nIcmpMsg: 1 1\nTcpExt: IPReversePathFilter TCPTimeouts\nTcpExt: 1 3\n",
        );
        let d = delta(&a, &b);
        assert_eq!(
            render(&d),
            "IcmpMsg.OutType0 +1, Ip.InReceives +2, TcpExt.IPReversePathFilter +1, TcpExt.TCPTimeouts +3"
        );
        assert_eq!(
            render(&compared(&d)),
            "IcmpMsg.OutType0 +1, Ip.InReceives +2, TcpExt.IPReversePathFilter +1"
        );
        let j = serde_json::json!({"Ip": {"InReceives": 2}, "IcmpMsg": {"OutType0": 1}, "TcpExt": {"IPReversePathFilter": 1}});
        let f = from_json(&j).unwrap();
        assert!(differences(&compared(&d), &f).is_empty());
        let mut acc = Counters::new();
        add(&mut acc, &d);
        add(&mut acc, &d);
        assert_eq!(acc["Ip"]["InReceives"], 4);
        let j = serde_json::json!({"Ip": {"InReceives": 3}});
        assert_eq!(
            differences(&compared(&d), &from_json(&j).unwrap()),
            vec![
                ("IcmpMsg.OutType0".to_string(), 1, 0),
                ("Ip.InReceives".to_string(), 2, 3),
                ("TcpExt.IPReversePathFilter".to_string(), 1, 0)
            ]
        );
    }
}
