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

/// `SNAT 172.17.0.2:40000 -> 10.0.2.15:40000`.
pub fn nat_text(rw: &NatRewrite) -> String {
    let kind = match rw.manip {
        NfNatManipType::Src => "SNAT",
        NfNatManipType::Dst => "DNAT",
    };
    format!(
        "{kind} {}:{} -> {}:{}",
        rw.from.0, rw.from.1, rw.to.0, rw.to.1
    )
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
        } => format!(
            "rule {} matches = {}",
            rule_ref(ns, table, chain, rule),
            matched as u8
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
        _ => return None,
    })
}
