//! What became of a packet across the topology, in words the CLI prints
//! ("the reply reaches ctr after 5 hops", "no reply: dropped on
//! host/docker0 (IP_INADDRERRORS)"), and counterfactuals, each checked by
//! re-running the same starts over a changed copy of the whole topology
//! ("with host: net.ipv4.ip_forward = 1: the reply reaches ctr after 5
//! hops").
//!
//! The changes tried, for the namespaces where the packet or its replies
//! were dropped or left without NAT: forwarding on (`net.ipv4.ip_forward`),
//! reverse-path filtering loosened (`rp_filter`), and Docker's MASQUERADE
//! rule for a private source forwarded out of a namespace that sent nothing
//! back — alone and after a sysctl change that let the packet further.

use std::net::Ipv4Addr;

use crate::SkbDropReason;
use crate::netns::{IfIndex, Netns};
use crate::topology::{Hop, HopVerdict, NsId, PacketId, Start, Topology};

/// The fate of a packet that expects an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopoOutcome {
    /// The packet's last hop.
    pub last: Option<Hop>,
    /// The first reply (not ARP) delivered to the namespace the packet
    /// started in, and its number of hops.
    pub reply: Option<(PacketId, usize)>,
    /// The last hop of the first reply that did not arrive.
    pub reply_lost: Option<Hop>,
    /// The namespace the packet started in.
    pub origin: Option<NsId>,
}

/// The fate of packet `pid` of a topology that ran.
pub fn outcome(t: &Topology, pid: PacketId) -> TopoOutcome {
    let p = t.packet(pid);
    let origin = p.hops.first().map(|h| h.ns);
    let mut reply = None;
    let mut reply_lost = None;
    for r in t.replies_to(pid).filter(|r| !r.is_arp()) {
        match r.last() {
            Some(h) if h.verdict == HopVerdict::Local && Some(h.ns) == origin => {
                reply = Some((r.id, r.hops.len()));
                break;
            }
            Some(h) if reply_lost.is_none() => reply_lost = Some(*h),
            _ => {}
        }
    }
    TopoOutcome {
        last: p.last().copied(),
        reply,
        reply_lost,
        origin,
    }
}

/// The outcome in words.
pub fn outcome_text(t: &Topology, o: &TopoOutcome) -> String {
    let at = |h: &Hop| format!("{}/{}", t.name(h.ns), t.netns(h.ns).dev_name(h.dev));
    if let Some((_, n)) = o.reply {
        let ns = o.origin.map_or("?", |i| t.name(i));
        return format!("the reply reaches {ns} after {n} hops");
    }
    let Some(last) = o.last else {
        return "nothing was sent".into();
    };
    match last.verdict {
        HopVerdict::Drop => format!(
            "no reply: dropped on {} ({})",
            at(&last),
            last.drop_reason.map_or("?", |r| r.name())
        ),
        HopVerdict::Left => format!("no reply: left the topology on {}", at(&last)),
        HopVerdict::Queued => format!("no reply: still waiting for ARP on {}", at(&last)),
        _ => match o.reply_lost {
            Some(h) if h.verdict == HopVerdict::Drop => format!(
                "reached {}; the reply is dropped on {} ({})",
                at(&last),
                at(&h),
                h.drop_reason.map_or("?", |r| r.name())
            ),
            Some(h) => format!("reached {}; the reply left by {}", at(&last), at(&h)),
            None => format!("no reply: reached {}, which sent nothing back", at(&last)),
        },
    }
}

/// Why packet `pid` (or, when it was delivered, its first reply that was
/// lost) was dropped: the hop and the deciding step of the walk there
/// (`crate::explain::why`: for a failed route decision, the condition that
/// sent it to `no_route`, e.g. `IN_DEV_FORWARD(docker0) = 0`). Needs
/// [`Topology::record_steps`] on when the topology ran.
pub fn why(t: &Topology, pid: PacketId) -> Option<(Hop, crate::trace::Step)> {
    let o = outcome(t, pid);
    let (p, hop) = match o.last {
        Some(h) if h.verdict == HopVerdict::Drop => (pid, h),
        _ => {
            let lost = o.reply_lost.filter(|h| h.verdict == HopVerdict::Drop)?;
            let r = t
                .replies_to(pid)
                .find(|r| !r.is_arp() && r.last() == Some(&lost))?;
            (r.id, lost)
        }
    };
    let pk = t.packet(p);
    let i = pk.hops.iter().rposition(|h| *h == hop)?;
    // The walk of the model call that gave this hop: the last one recorded
    // at or before it.
    let (_, steps) = pk.steps.iter().rev().find(|(at, _)| *at <= i)?;
    crate::explain::why(steps).map(|s| (hop, s))
}

/// A change to one namespace and what the same starts give with it.
#[derive(Clone, Debug)]
pub struct TopoCounterfactual {
    /// The namespace changed.
    pub ns: String,
    /// The change: `sysctl -w` words or an iptables rule, several joined
    /// with " and ".
    pub change: String,
    /// The outcome with it.
    pub outcome: TopoOutcome,
    /// The outcome in words.
    pub text: String,
}

/// The explanation of one packet of a topology run.
#[derive(Clone, Debug)]
pub struct TopoExplanation {
    /// Its outcome.
    pub outcome: TopoOutcome,
    /// In words.
    pub text: String,
    /// Changes that give a different outcome, each re-run over the whole
    /// topology; those that bring the reply back first.
    pub counterfactuals: Vec<TopoCounterfactual>,
}

/// Runs `starts` on a copy of `pristine`: the topology after, and the
/// packet of start number `which`.
pub fn rerun(pristine: &Topology, starts: &[Start], which: usize) -> Option<(Topology, PacketId)> {
    let mut t = pristine.clone();
    let mut pid = None;
    for (i, s) in starts.iter().enumerate() {
        let p = t.start(s).ok()?;
        t.run();
        if i == which {
            pid = Some(p);
        }
    }
    Some((t, pid?))
}

fn differs(a: &TopoOutcome, b: &TopoOutcome) -> bool {
    let key = |o: &TopoOutcome| {
        (
            o.reply.map(|(_, n)| n),
            o.last.map(|h| (h.ns, h.dev, h.verdict, h.drop_reason)),
            o.reply_lost
                .map(|h| (h.ns, h.dev, h.verdict, h.drop_reason)),
        )
    };
    key(a) != key(b)
}

/// A change of one namespace: words and the changed namespace.
type Change = (String, Netns);

/// The sysctl changes worth trying where a hop was dropped.
fn sysctl_changes(ns: &Netns, h: &Hop) -> Vec<Change> {
    let dev = ns.dev_name(h.dev).replace('.', "/");
    let mut keys: Vec<(String, i64)> = Vec::new();
    match h.drop_reason {
        Some(SkbDropReason::IP_INADDRERRORS | SkbDropReason::IP_INNOROUTES) => {
            keys.push(("net.ipv4.ip_forward".into(), 1));
            keys.push((format!("net.ipv4.conf.{dev}.forwarding"), 1));
        }
        Some(SkbDropReason::IP_RPFILTER) => {
            keys.push(("net.ipv4.conf.all.rp_filter".into(), 2));
        }
        _ => {}
    }
    let mut out = Vec::new();
    for (k, v) in keys {
        if ns.sysctl_get(&k).ok() == Some(v) {
            continue;
        }
        let mut alt = ns.clone();
        if k.ends_with("rp_filter") {
            // max(all, device): the device's value must come down too.
            let _ = alt.sysctl_write(&format!("net.ipv4.conf.{dev}.rp_filter"), v);
        }
        if alt.sysctl_write(&k, v).is_ok() {
            out.push((format!("{k} = {v}"), alt));
        }
    }
    out
}

/// Docker's MASQUERADE rule for the subnet of `src` on `iif`
/// (`-A POSTROUTING -s SUBNET ! -o IIF -j MASQUERADE`, the nat table made
/// when there is none), and the rule's words.
pub fn with_masquerade(ns: &Netns, iif: IfIndex, src: Ipv4Addr) -> Option<Change> {
    use crate::netfilter::xtables::ip_tables::*;
    let ifa = ns.in_dev(iif)?.ifa_list.iter().find(|a| a.matches(src))?;
    let subnet = format!("{}/{}", ifa.prefix(), ifa.ifa_prefixlen);
    let indev = ns.dev_name(iif).to_string();
    let text = format!("-t nat -A POSTROUTING -s {subnet} ! -o {indev} -j MASQUERADE");
    let rule = IptEntry {
        ip: IptIp {
            src: Some((subnet.parse().ok()?, false)),
            outiface: Some(IfaceMatch {
                name: indev,
                wildcard: false,
                invert: true,
            }),
            ..Default::default()
        },
        matches: Vec::new(),
        target: XtTarget::Masquerade(NatRange::default()),
        origin: RuleOrigin {
            file: std::sync::Arc::from("(suggested)"),
            line: 0,
            text: std::sync::Arc::from(text.as_str()),
        },
        saved: XtCounters::default(),
        counters: XtCounters::default(),
        unmodelled: false,
    };
    let mut alt = ns.clone();
    let nf = alt.nf.get_or_insert_with(Default::default);
    let ti = match nf.tables.iter().position(|t| t.name == TableName::Nat) {
        Some(i) => i,
        None => {
            let chain = |name: &str| IptChain {
                name: name.into(),
                policy: Some(Policy::Accept),
                rules: Vec::new(),
                saved: XtCounters::default(),
                counters: XtCounters::default(),
                line: 0,
            };
            nf.tables.push(IptTable {
                name: TableName::Nat,
                backend: XtBackend::Nft,
                file: std::sync::Arc::from("(suggested)"),
                chains: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]
                    .into_iter()
                    .map(chain)
                    .collect(),
            });
            nf.tables.len() - 1
        }
    };
    let post = nf.tables[ti].chain_index("POSTROUTING")?;
    nf.tables[ti].chains[post].rules.push(rule);
    nf.register_hooks();
    Some((text, alt))
}

/// A namespace that forwarded `pid` (a `Forward` hop on `iif`) from a
/// private source and sent nothing back: where MASQUERADE is missing.
fn unnatted_forward(t: &Topology, pid: PacketId) -> Option<(NsId, IfIndex, Ipv4Addr)> {
    let p = t.packet(pid);
    let src = p
        .frame
        .get(26..30)
        .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]))?;
    if !crate::explain::is_private(src) {
        return None;
    }
    let h = p.hops.iter().find(|h| h.verdict == HopVerdict::Forward)?;
    let ns = t.netns(h.ns);
    let natted = ns.nf.as_ref().is_some_and(|nf| {
        nf.tables.iter().any(|tb| {
            tb.name == crate::netfilter::xtables::ip_tables::TableName::Nat
                && tb.chains.iter().any(|c| {
                    c.rules.iter().any(|r| {
                        matches!(
                            r.target,
                            crate::netfilter::xtables::ip_tables::XtTarget::Masquerade(_)
                                | crate::netfilter::xtables::ip_tables::XtTarget::Snat(_)
                        )
                    })
                })
        })
    });
    (!natted).then_some((h.ns, h.dev, src))
}

/// Explains packet number `which` of `starts` over `pristine` (the
/// topology before the starts ran): its outcome, and the changes that give
/// another one.
pub fn explain(pristine: &Topology, starts: &[Start], which: usize) -> Option<TopoExplanation> {
    let (t, pid) = rerun(pristine, starts, which)?;
    let base = outcome(&t, pid);
    let text = outcome_text(&t, &base);
    let mut counterfactuals = Vec::new();
    if base.reply.is_none() {
        // The hops where the packet, or a reply to it, was dropped.
        let mut drops: Vec<Hop> = t.packet(pid).hops.clone();
        for r in t.replies_to(pid) {
            drops.extend(r.hops.iter().copied());
        }
        drops.retain(|h| h.verdict == HopVerdict::Drop);
        let mut tried: Vec<(NsId, String)> = Vec::new();
        let mut push = |ns: NsId,
                        change: String,
                        alt: Netns,
                        counterfactuals: &mut Vec<TopoCounterfactual>| {
            if tried.contains(&(ns, change.clone())) {
                return;
            }
            tried.push((ns, change.clone()));
            let mut changed = pristine.clone();
            *changed.netns_mut(ns) = alt;
            let Some((after, p)) = rerun(&changed, starts, which) else {
                return;
            };
            let o = outcome(&after, p);
            let mut change = change;
            let mut o = o;
            let mut after = after;
            let mut p = p;
            // Further but still no reply: a private source forwarded without
            // NAT gets Docker's MASQUERADE rule too.
            if o.reply.is_none()
                && let Some((mns, iif, src)) = unnatted_forward(&after, p)
                && let Some((rule, alt2)) = with_masquerade(changed.netns(mns), iif, src)
            {
                let mut changed2 = changed.clone();
                *changed2.netns_mut(mns) = alt2;
                if let Some((a2, p2)) = rerun(&changed2, starts, which) {
                    let o2 = outcome(&a2, p2);
                    if o2.reply.is_some() {
                        change = format!("{change} and {}: iptables {rule}", changed.name(mns));
                        o = o2;
                        after = a2;
                        p = p2;
                    }
                }
            }
            let _ = p;
            if differs(&base, &o) {
                counterfactuals.push(TopoCounterfactual {
                    ns: pristine.name(ns).to_string(),
                    text: outcome_text(&after, &o),
                    change,
                    outcome: o,
                });
            }
        };
        for h in &drops {
            for (change, alt) in sysctl_changes(pristine.netns(h.ns), h) {
                push(h.ns, change, alt, &mut counterfactuals);
            }
        }
        if let Some((ns, iif, src)) = unnatted_forward(&t, pid)
            && let Some((rule, alt)) = with_masquerade(pristine.netns(ns), iif, src)
        {
            push(ns, format!("iptables {rule}"), alt, &mut counterfactuals);
        }
    }
    counterfactuals.sort_by_key(|c| c.outcome.reply.is_none());
    Some(TopoExplanation {
        outcome: base,
        text,
        counterfactuals,
    })
}
