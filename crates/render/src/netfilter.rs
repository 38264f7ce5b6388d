//! Netfilter in words: a table, chain and rule by the names and text the
//! user loaded, and what the hooks did to a packet, for the trace, the
//! replay table and its JSON lines.

use fwdsim_kernel::Netns;
use fwdsim_kernel::netfilter::conntrack::{IpConntrackInfo, Nfct};
use fwdsim_kernel::netfilter::core::{NfEvent, NfEventKind, NfVerdict};
use fwdsim_kernel::netfilter::nat::{NatRewrite, NfNatManipType};
use serde_json::{Value, json};

/// The table's name (`filter`, `nat`, ...), or `?` when it is not loaded.
pub fn table_name(ns: &Netns, table: u16) -> &str {
    ns.nf
        .as_ref()
        .and_then(|nf| nf.tables.get(table as usize))
        .map_or("?", |t| t.name.name())
}

/// The chain's name.
pub fn chain_name(ns: &Netns, table: u16, chain: u16) -> &str {
    ns.nf
        .as_ref()
        .and_then(|nf| nf.tables.get(table as usize))
        .and_then(|t| t.chains.get(chain as usize))
        .map_or("?", |c| c.name.as_str())
}

/// The rule's file, line and text.
pub fn rule_origin(
    ns: &Netns,
    table: u16,
    chain: u16,
    rule: u16,
) -> Option<&fwdsim_kernel::netfilter::xtables::ip_tables::RuleOrigin> {
    ns.nf
        .as_ref()
        .and_then(|nf| nf.tables.get(table as usize))
        .and_then(|t| t.chains.get(chain as usize))
        .and_then(|c| c.rules.get(rule as usize))
        .map(|r| &r.origin)
}

/// `file:line: text` of a rule, or `?`.
pub fn rule_ref(ns: &Netns, table: u16, chain: u16, rule: u16) -> String {
    match rule_origin(ns, table, chain, rule) {
        Some(o) => format!("{}:{}: {}", o.file, o.line, o.text),
        None => "?".into(),
    }
}

/// `table ip docker-bridges chain filter-FORWARD` (nftables), or `?`.
pub fn nft_chain_ref(ns: &Netns, table: u16, chain: u16) -> String {
    let Some(t) = ns.nf.as_ref().and_then(|nf| nf.nft.get(table as usize)) else {
        return "?".into();
    };
    let c = t
        .chains
        .get(chain as usize)
        .map_or("?", |c| c.name.as_str());
    format!("{} chain {c}", t.title())
}

/// The nftables rule: `nft.json: table ip t chain c handle 12: iifname "r0" accept`.
pub fn nft_rule_ref(ns: &Netns, table: u16, chain: u16, rule: u16) -> String {
    let r = ns
        .nf
        .as_ref()
        .and_then(|nf| nf.nft.get(table as usize))
        .and_then(|t| t.chains.get(chain as usize))
        .and_then(|c| c.rules.get(rule as usize));
    match r {
        Some(r) => format!(
            "nft.json: {} handle {}: {}",
            nft_chain_ref(ns, table, chain),
            r.handle,
            r.text
        ),
        None => "?".into(),
    }
}

fn nft_rule_json(ns: &Netns, table: u16, chain: u16, rule: u16) -> Value {
    let r = ns
        .nf
        .as_ref()
        .and_then(|nf| nf.nft.get(table as usize))
        .and_then(|t| t.chains.get(chain as usize))
        .and_then(|c| c.rules.get(rule as usize));
    match r {
        Some(r) => json!({"file": "nft.json", "handle": r.handle, "text": &*r.text}),
        None => Value::Null,
    }
}

fn nft_table_chain(ns: &Netns, table: u16, chain: u16) -> (String, String) {
    match ns.nf.as_ref().and_then(|nf| nf.nft.get(table as usize)) {
        Some(t) => (
            format!("{} {}", t.family.name(), t.name),
            t.chains
                .get(chain as usize)
                .map_or("?".into(), |c| c.name.clone()),
        ),
        None => ("?".into(), "?".into()),
    }
}

/// `NEW`, `ESTABLISHED`, ... as `-m conntrack` names the packet's state.
pub fn nfct_name(nfct: Nfct) -> &'static str {
    match nfct {
        Nfct::None => "INVALID",
        Nfct::Untracked => "UNTRACKED",
        Nfct::Ct { ctinfo, .. } => match ctinfo {
            IpConntrackInfo::New => "NEW",
            IpConntrackInfo::Established => "ESTABLISHED",
            IpConntrackInfo::EstablishedReply => "ESTABLISHED (reply)",
            IpConntrackInfo::Related => "RELATED",
            IpConntrackInfo::RelatedReply => "RELATED (reply)",
        },
    }
}

/// `SNAT 172.17.0.2:40000 -> 10.0.2.15:40000` (an ICMP query's id:
/// `SNAT 172.17.0.2 id 4660 -> 10.0.2.15 id 4660`).
pub fn nat_text(rw: &NatRewrite) -> String {
    let kind = match rw.manip {
        NfNatManipType::Src => "SNAT",
        NfNatManipType::Dst => "DNAT",
    };
    match rw.proto {
        6 | 17 | 33 | 132 | 136 => format!(
            "{kind} {}:{} -> {}:{}",
            rw.from.0, rw.from.1, rw.to.0, rw.to.1
        ),
        1 => format!(
            "{kind} {} id {} -> {} id {}",
            rw.from.0, rw.from.1, rw.to.0, rw.to.1
        ),
        _ => format!("{kind} {} -> {}", rw.from.0, rw.to.0),
    }
}

fn verdict_name(v: NfVerdict) -> &'static str {
    match v {
        NfVerdict::Accept => "ACCEPT",
        NfVerdict::Drop => "DROP",
    }
}

/// The event that dropped the packet, in words: `filter FORWARD policy
/// DROP`, `filter FORWARD rule iptables.txt:12: -A ... -j DROP`.
pub fn drop_cause(ns: &Netns) -> Option<String> {
    let nf = ns.nf.as_ref()?;
    let mut cause = None;
    for e in nf.trail.events() {
        match e.kind {
            NfEventKind::Policy {
                table,
                chain,
                verdict: NfVerdict::Drop,
            } => {
                cause = Some(format!(
                    "{} {} policy DROP",
                    table_name(ns, table),
                    chain_name(ns, table, chain)
                ))
            }
            NfEventKind::Rule {
                table,
                chain,
                rule,
                verdict: NfVerdict::Drop,
            } => {
                cause = Some(format!(
                    "{} {} rule {}",
                    table_name(ns, table),
                    chain_name(ns, table, chain),
                    rule_ref(ns, table, chain, rule)
                ))
            }
            NfEventKind::NftPolicy {
                table,
                chain,
                verdict: NfVerdict::Drop,
            } => cause = Some(format!("{} policy drop", nft_chain_ref(ns, table, chain))),
            NfEventKind::NftRule {
                table,
                chain,
                rule,
                verdict: NfVerdict::Drop,
            } => cause = Some(format!("rule {}", nft_rule_ref(ns, table, chain, rule))),
            NfEventKind::ConntrackDrop => cause = Some("conntrack (nf_conntrack_in)".into()),
            _ => {}
        }
    }
    cause
}

/// The packet's netfilter events as JSON (null on a host without rules).
pub fn events_json(ns: &Netns) -> Value {
    let Some(nf) = ns.nf.as_ref() else {
        return Value::Null;
    };
    let v: Vec<Value> = nf.trail.events().map(|e| event_json(ns, e)).collect();
    Value::Array(v)
}

fn rule_json(ns: &Netns, table: u16, chain: u16, rule: u16) -> Value {
    match rule_origin(ns, table, chain, rule) {
        Some(o) => json!({"file": &*o.file, "line": o.line, "text": &*o.text}),
        None => Value::Null,
    }
}

fn event_json(ns: &Netns, e: &NfEvent) -> Value {
    let hook = e.hook.chain_name();
    match e.kind {
        NfEventKind::Rule {
            table,
            chain,
            rule,
            verdict,
        } => json!({"hook": hook, "table": table_name(ns, table),
            "chain": chain_name(ns, table, chain), "rule": rule_json(ns, table, chain, rule),
            "verdict": verdict_name(verdict)}),
        NfEventKind::Policy {
            table,
            chain,
            verdict,
        } => json!({"hook": hook, "table": table_name(ns, table),
            "chain": chain_name(ns, table, chain), "rule": null, "policy": true,
            "verdict": verdict_name(verdict)}),
        NfEventKind::Unmodelled { table, chain, rule } => json!({"hook": hook,
            "table": table_name(ns, table), "chain": chain_name(ns, table, chain),
            "rule": rule_json(ns, table, chain, rule), "unmodelled": true}),
        NfEventKind::Log { table, chain, rule } => json!({"hook": hook,
            "table": table_name(ns, table), "chain": chain_name(ns, table, chain),
            "rule": rule_json(ns, table, chain, rule), "verdict": "LOG"}),
        NfEventKind::Nat(rw) => json!({"hook": hook, "nat": nat_text(&rw)}),
        NfEventKind::Reject(w) => json!({"hook": hook, "reject_with": w.name()}),
        NfEventKind::ConntrackDrop => json!({"hook": hook, "conntrack": "drop"}),
        NfEventKind::Ct(n) => json!({"hook": hook, "ctstate": nfct_name(n)}),
        NfEventKind::NotModelled(what) => json!({"hook": hook, "not_modelled": what}),
        NfEventKind::NftRule {
            table,
            chain,
            rule,
            verdict,
        } => {
            let (t, c) = nft_table_chain(ns, table, chain);
            json!({"hook": hook, "nft_table": t, "chain": c,
                "rule": nft_rule_json(ns, table, chain, rule), "verdict": verdict_name(verdict)})
        }
        NfEventKind::NftPolicy {
            table,
            chain,
            verdict,
        } => {
            let (t, c) = nft_table_chain(ns, table, chain);
            json!({"hook": hook, "nft_table": t, "chain": c, "rule": null, "policy": true,
                "verdict": verdict_name(verdict)})
        }
        NfEventKind::NftUnmodelled { table, chain, rule } => {
            let (t, c) = nft_table_chain(ns, table, chain);
            json!({"hook": hook, "nft_table": t, "chain": c,
                "rule": nft_rule_json(ns, table, chain, rule), "unmodelled": true})
        }
        NfEventKind::NftLog { table, chain, rule } => {
            let (t, c) = nft_table_chain(ns, table, chain);
            json!({"hook": hook, "nft_table": t, "chain": c,
                "rule": nft_rule_json(ns, table, chain, rule), "verdict": "LOG"})
        }
    }
}

fn match_name(m: &fwdsim_kernel::netfilter::xtables::ip_tables::XtMatch) -> String {
    use fwdsim_kernel::netfilter::xtables::ip_tables::XtMatch as M;
    match m {
        M::Tcp { .. } => "-p tcp options".into(),
        M::Udp { .. } => "-p udp options".into(),
        M::Icmp { .. } => "--icmp-type".into(),
        M::Multiport { .. } => "-m multiport".into(),
        M::Conntrack(_) => "-m conntrack".into(),
        M::State { .. } => "-m state".into(),
        M::Addrtype { .. } => "-m addrtype".into(),
        M::Set(s) => format!("-m set {}", s.name),
        M::Comment(_) => "-m comment".into(),
        M::Mark { .. } => "-m mark".into(),
        M::Connmark { .. } => "-m connmark".into(),
        M::Iprange { .. } => "-m iprange".into(),
        M::Length(_) => "-m length".into(),
        M::Ttl { .. } => "-m ttl".into(),
        M::Limit { .. } => "-m limit".into(),
        M::Physdev(_) => "-m physdev".into(),
        M::Unsupported { name } => format!("-m {name}"),
        #[allow(unreachable_patterns)]
        _ => "a match".into(),
    }
}

/// Why a rule did not match, with the packet's value: ` (-o: eth0)`.
fn miss_text(
    ns: &Netns,
    table: u16,
    chain: u16,
    rule: u16,
    miss: fwdsim_kernel::netfilter::xtables::eval::NfMiss,
) -> String {
    use fwdsim_kernel::netfilter::xtables::eval::NfMiss;
    let module = |k: u8| {
        ns.nf
            .as_ref()
            .and_then(|nf| nf.tables.get(table as usize))
            .and_then(|t| t.chains.get(chain as usize))
            .and_then(|c| c.rules.get(rule as usize))
            .and_then(|r| r.matches.get(k as usize))
            .map_or_else(|| "a match".to_string(), match_name)
    };
    let dev = |d: fwdsim_kernel::IfIndex| {
        if d.0 == 0 {
            "none".to_string()
        } else {
            ns.dev_name(d).to_string()
        }
    };
    match miss {
        NfMiss::None => String::new(),
        NfMiss::Src(a) => format!(" (-s: saddr {a})"),
        NfMiss::Dst(a) => format!(" (-d: daddr {a})"),
        NfMiss::In(d) => format!(" (-i: in {})", dev(d)),
        NfMiss::Out(d) => format!(" (-o: out {})", dev(d)),
        NfMiss::Proto(p) => format!(" (-p: protocol {p})"),
        NfMiss::Frag(f) => format!(" (-f: fragment offset {f})"),
        NfMiss::Match(k) => format!(" ({} does not hold)", module(k)),
        NfMiss::Unknown(k) => format!(" ({} is not modelled)", module(k)),
    }
}

/// A trace step of netfilter in words.
pub fn describe(ns: &Netns, c: &fwdsim_kernel::trace::Check) -> Option<String> {
    use fwdsim_kernel::trace::Check;
    Some(match *c {
        Check::NfHook { hook } => format!("{} hooks", hook.kernel_name()),
        Check::NfTable { table, chain } => format!(
            "table {} chain {}",
            table_name(ns, table),
            chain_name(ns, table, chain)
        ),
        Check::NfRule {
            table,
            chain,
            rule,
            matched,
            miss,
        } => format!(
            "rule {} matches = {}{}",
            rule_ref(ns, table, chain, rule),
            matched as u8,
            miss_text(ns, table, chain, rule, miss)
        ),
        Check::NfPolicy {
            table,
            chain,
            accept,
        } => format!(
            "{} {} policy {}",
            table_name(ns, table),
            chain_name(ns, table, chain),
            if accept { "ACCEPT" } else { "DROP" }
        ),
        Check::NfCt { nfct } => format!("ctstate {}", nfct_name(nfct)),
        Check::NfNat { rw } => nat_text(&rw),
        Check::NftChain { table, chain } => nft_chain_ref(ns, table, chain),
        Check::NftRule {
            table,
            chain,
            rule,
            matched,
        } => format!(
            "rule {} matches = {}",
            nft_rule_ref(ns, table, chain, rule),
            matched as u8
        ),
        Check::NftPolicy {
            table,
            chain,
            accept,
        } => format!(
            "{} policy {}",
            nft_chain_ref(ns, table, chain),
            if accept { "accept" } else { "drop" }
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fwdsim_kernel::netfilter::nf_tables::{
        NftBaseChain, NftChain, NftChainType, NftFamily, NftPolicy, NftRule, NftTable,
    };
    use fwdsim_kernel::netfilter::{Netfilter, NfInetHook};
    use fwdsim_kernel::trace::Check;

    use super::*;

    fn host() -> Netns {
        let mut t = NftTable::new(NftFamily::Ip, "docker-bridges");
        t.chains.push(NftChain {
            name: "filter-FORWARD".into(),
            handle: 1,
            base: Some(NftBaseChain {
                ty: NftChainType::Filter,
                hook: NfInetHook::Forward,
                priority: 0,
                policy: NftPolicy::Drop,
            }),
            rules: vec![NftRule {
                handle: 23,
                exprs: vec![],
                comment: None,
                text: Arc::from("counter drop"),
                counters: Default::default(),
                saved: Default::default(),
            }],
            counters: Default::default(),
        });
        let mut ns = Netns::new();
        ns.nf = Some(Box::new(Netfilter {
            nft: vec![t],
            ..Default::default()
        }));
        ns
    }

    #[test]
    fn nft_events_and_steps_in_words() {
        let mut ns = host();
        let ev = |kind| NfEvent {
            hook: NfInetHook::Forward,
            kind,
        };
        let nf = ns.nf.as_mut().unwrap();
        nf.trail.push(ev(NfEventKind::NftRule {
            table: 0,
            chain: 0,
            rule: 0,
            verdict: NfVerdict::Drop,
        }));
        assert_eq!(
            drop_cause(&ns).as_deref(),
            Some(
                "rule nft.json: table ip docker-bridges chain filter-FORWARD handle 23: counter drop"
            )
        );
        assert_eq!(
            events_json(&ns),
            json!([{"hook": "FORWARD", "nft_table": "ip docker-bridges", "chain": "filter-FORWARD",
                "rule": {"file": "nft.json", "handle": 23, "text": "counter drop"},
                "verdict": "DROP"}])
        );
        ns.nf.as_mut().unwrap().trail.clear();
        ns.nf
            .as_mut()
            .unwrap()
            .trail
            .push(ev(NfEventKind::NftPolicy {
                table: 0,
                chain: 0,
                verdict: NfVerdict::Drop,
            }));
        assert_eq!(
            drop_cause(&ns).as_deref(),
            Some("table ip docker-bridges chain filter-FORWARD policy drop")
        );
        assert_eq!(
            describe(
                &ns,
                &Check::NftRule {
                    table: 0,
                    chain: 0,
                    rule: 0,
                    matched: true
                }
            )
            .as_deref(),
            Some(
                "rule nft.json: table ip docker-bridges chain filter-FORWARD handle 23: counter drop matches = 1"
            )
        );
        assert_eq!(
            describe(&ns, &Check::NftChain { table: 0, chain: 0 }).as_deref(),
            Some("table ip docker-bridges chain filter-FORWARD")
        );
    }
}
