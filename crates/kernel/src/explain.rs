//! Why a route decision came out as it did, and what would change it: the
//! condition that decided (from the recorded walk), the configuration value
//! behind it, and counterfactuals, each checked by re-running the decision
//! on a modified copy of the host.

use std::net::Ipv4Addr;

use crate::SkbDropReason;
use crate::ipv4::rtnetlink::{RouteGetError, RouteGetReply, RouteGetRequest, inet_rtm_getroute};
use crate::netns::{IfIndex, Netns};
use crate::trace::{Branch, Check, NoTrace, Recorder, Step};
use crate::uapi::RouteType;

/// The answer a decision gave.
pub type Answer = Result<RouteGetReply, RouteGetError>;

/// A change to the host and what the decision gives with it.
#[derive(Clone, Debug)]
pub struct Counterfactual {
    /// The change, as `sysctl -w` words (`net.ipv4.ip_forward = 1`).
    pub change: String,
    /// The answer with the change applied.
    pub answer: Answer,
}

/// The explanation of one decision.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// The answer.
    pub answer: Answer,
    /// The step that decided, if one did.
    pub deciding: Option<Step>,
    /// The changes that give a different answer, smallest first.
    pub counterfactuals: Vec<Counterfactual>,
}

fn decide(ns: &Netns, req: &RouteGetRequest, t: &mut Recorder) -> Answer {
    let mut ns = ns.clone();
    let mut buf = [0u8; 28];
    inet_rtm_getroute(&mut ns, req, &mut buf, t)
}

/// The kind of outcome, to tell whether a change made a difference.
fn outcome_key(a: &Answer) -> (bool, Option<SkbDropReason>, RouteType, IfIndex, Ipv4Addr) {
    match a {
        Ok(r) => (
            true,
            None,
            r.rt_type,
            r.dev,
            r.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED),
        ),
        Err(e) => (
            false,
            e.drop_reason,
            RouteType(0),
            IfIndex(e.errno.0 as u32),
            Ipv4Addr::UNSPECIFIED,
        ),
    }
}

/// Whether a step tests a condition (rather than counting, dropping or
/// reporting a result).
fn is_condition(c: &Check) -> bool {
    !matches!(
        c,
        Check::Enter
            | Check::Counter { .. }
            | Check::Drop { .. }
            | Check::Validated { .. }
            | Check::DstMade { .. }
            | Check::DstInputCall { .. }
            | Check::IcmpSent { .. }
            | Check::OutputDev { .. }
            | Check::ArpSolicit { .. }
            | Check::ArpReply { .. }
            | Check::NeighQueued { .. }
            | Check::NeighQueueFull { .. }
            | Check::NeighUpdate { .. }
    )
}

/// The step that decided: the condition at (or just before) the first jump
/// to a failure label, else the condition checked last before the first drop.
fn deciding_step(steps: &[Step]) -> Option<Step> {
    let end = steps
        .iter()
        .position(|s| {
            matches!(
                s.branch,
                Branch::no_route
                    | Branch::martian_source
                    | Branch::martian_destination
                    | Branch::last_resort
            )
        })
        .or_else(|| {
            steps
                .iter()
                .position(|s| matches!(s.check, Check::Drop { .. }))
        })?;
    // A failed FIB lookup also goes to no_route with forwarding on: the
    // lookup decided, not `IN_DEV_FORWARD` = 1.
    steps[..=end]
        .iter()
        .rev()
        .copied()
        .find(|s| {
            is_condition(&s.check) && !matches!(s.check, Check::InDevForward { value: true, .. })
        })
        .or(Some(steps[end]))
}

/// Why a walk ended as it did: the deciding step of a failed route decision
/// ([`explain`]'s), else the condition that dropped the packet
/// ([`drop_condition`]). `None` when the packet was not dropped.
pub fn why(steps: &[Step]) -> Option<Step> {
    let route_failed = steps.iter().any(|s| {
        matches!(
            s.branch,
            Branch::no_route
                | Branch::martian_source
                | Branch::martian_destination
                | Branch::last_resort
        )
    });
    if route_failed {
        deciding_step(steps)
    } else {
        drop_condition(steps)
    }
}

/// The condition that dropped a packet after its route decision: the
/// first drop, and the last condition its function tested before it (from
/// that function's entry on). `None` when there is no drop; the step of the
/// drop itself when its function tested nothing.
pub fn drop_condition(steps: &[Step]) -> Option<Step> {
    let end = steps
        .iter()
        .position(|s| matches!(s.check, Check::Drop { .. }))?;
    let func = steps[end].func;
    steps[..end]
        .iter()
        .rev()
        .take_while(|s| !(s.func == func && s.check == Check::Enter))
        .copied()
        .find(|s| (s.func == func || decides_for(s.func, func)) && is_condition(&s.check))
        .or(Some(steps[end]))
}

/// Whether a check of `callee` can decide a drop counted by `caller`: the
/// options are parsed in `ip_rcv_options`, and a refusal is dropped at
/// `ip_rcv_finish_core`'s drop label; a resolution that failed in
/// `neigh_timer_handler` drops its queue through `arp_error_report`.
fn decides_for(callee: crate::trace::KernelFn, caller: crate::trace::KernelFn) -> bool {
    use crate::trace::KernelFn;
    (callee == KernelFn::ip_rcv_options && caller == KernelFn::ip_rcv_finish_core)
        || (callee == KernelFn::neigh_timer_handler && caller == KernelFn::arp_error_report)
}

/// Explains `req` on `ns`: the answer, the deciding step and the changes
/// (sysctls of the input device and of `all`) that would change it.
pub fn explain(ns: &Netns, req: &RouteGetRequest) -> Explanation {
    let mut rec = Recorder::new();
    let answer = decide(ns, req, &mut rec);
    let deciding = deciding_step(&rec.steps);
    let mut counterfactuals = Vec::new();
    if answer.is_err() {
        let iif = req.iif.map(|i| ns.dev_name(i).to_string());
        let mut candidates: Vec<(String, i64)> = vec![("net.ipv4.ip_forward".into(), 1)];
        if let Some(d) = &iif {
            candidates.push((format!("net.ipv4.conf.{d}.forwarding"), 1));
        }
        candidates.push(("net.ipv4.conf.all.rp_filter".into(), 0));
        if let Some(d) = &iif {
            candidates.push((format!("net.ipv4.conf.{d}.rp_filter"), 2));
            candidates.push((format!("net.ipv4.conf.{d}.accept_local"), 1));
            candidates.push((format!("net.ipv4.conf.{d}.route_localnet"), 1));
        }
        let base = outcome_key(&answer);
        for (k, v) in candidates {
            if ns.sysctl_get(&k).ok() == Some(v) {
                continue;
            }
            let mut alt = ns.clone();
            // rp_filter is max(all, device): loosening one needs the other too.
            if k.ends_with(".rp_filter") {
                let _ = alt.sysctl_write(
                    "net.ipv4.conf.all.rp_filter",
                    v.min(alt.sysctl_get("net.ipv4.conf.all.rp_filter").unwrap_or(0)),
                );
            }
            if alt.sysctl_write(&k, v).is_err() {
                continue;
            }
            let mut buf = [0u8; 28];
            let a = inet_rtm_getroute(&mut alt, req, &mut buf, &mut NoTrace);
            if outcome_key(&a) != base {
                counterfactuals.push(Counterfactual {
                    change: format!("{k} = {v}"),
                    answer: a,
                });
            }
        }
    }
    if answer.is_err() {
        let base = outcome_key(&answer);
        let mut changes = structural_changes(ns, req.dst, &rec.steps);
        if matches!(&answer, Err(e) if e.errno == crate::uapi::Errno::ENETUNREACH) {
            changes.extend(default_routes(ns, req.iif));
        }
        for (change, alt) in changes {
            let mut alt = alt;
            let mut buf = [0u8; 28];
            let a = inet_rtm_getroute(&mut alt, req, &mut buf, &mut NoTrace);
            if outcome_key(&a) != base {
                counterfactuals.push(Counterfactual { change, answer: a });
            }
        }
    }
    Explanation {
        answer,
        deciding,
        counterfactuals,
    }
}

fn table_word(t: u32) -> String {
    match t {
        crate::netns::rt_table::RT_TABLE_MAIN => "main".into(),
        crate::netns::rt_table::RT_TABLE_LOCAL => "local".into(),
        crate::netns::rt_table::RT_TABLE_DEFAULT => "default".into(),
        t => t.to_string(),
    }
}

/// Copies of the host without the route or rule that answered: a
/// `blackhole`, `unreachable`, `prohibit` or `throw` route that a lookup of
/// the walk found, and a rule whose own action (`blackhole`, `unreachable`,
/// `prohibit`) ended the walk. Each comes with the command that makes the
/// change (`ip route del ...`, `ip rule del pref N`).
fn structural_changes(ns: &Netns, daddr: Ipv4Addr, steps: &[Step]) -> Vec<(String, Netns)> {
    let mut out: Vec<(String, Netns)> = Vec::new();
    let reject = |t: RouteType| {
        matches!(
            t,
            RouteType::RTN_BLACKHOLE
                | RouteType::RTN_UNREACHABLE
                | RouteType::RTN_PROHIBIT
                | RouteType::RTN_THROW
        )
    };
    for st in steps {
        let found = match st.check {
            Check::TableLookup {
                table,
                result:
                    crate::trace::LookupOutcome::Found {
                        rt_type,
                        prefix,
                        prefixlen,
                        ..
                    },
            } if reject(rt_type) => Some((table, rt_type, prefix, prefixlen)),
            Check::TableLookup {
                table,
                result: crate::trace::LookupOutcome::Error(e),
            } => reject_route_for(ns, table, daddr, e),
            _ => None,
        };
        match st.check {
            _ if found.is_some() => {
                let (table, rt_type, prefix, prefixlen) = found.expect("checked");
                let word = rt_type.word().unwrap_or("?");
                let change = format!(
                    "ip route del {word} {prefix}/{prefixlen} table {}",
                    table_word(table)
                );
                if out.iter().any(|(c, _)| *c == change) {
                    continue;
                }
                let mut alt = ns.clone();
                if remove_route(&mut alt, table, rt_type, prefix, prefixlen) {
                    alt.rt_cache_flush();
                    out.push((change, alt));
                }
            }
            Check::RuleAction {
                pref,
                result: crate::trace::LookupOutcome::Error(_),
                ..
            } => {
                let change = format!("ip rule del pref {pref}");
                if out.iter().any(|(c, _)| *c == change) {
                    continue;
                }
                let mut alt = ns.clone();
                if let Some(i) = alt.fib.rules.iter().position(|r| r.pref == pref) {
                    alt.fib.rules.remove(i);
                    alt.rt_cache_flush();
                    out.push((change, alt));
                }
            }
            _ => {}
        }
    }
    out
}

/// Copies of the host with a default route in the main table through each
/// other device that is up and has an address: via a neighbour of that
/// device on its subnet when the host knows one (likely the router), else
/// on-link. `ip_route_input_slow` fails with `ENETUNREACH` only when no
/// route matched, so one of these is what an operator would add.
fn default_routes(ns: &Netns, iif: Option<IfIndex>) -> Vec<(String, Netns)> {
    use crate::netns::{NexthopSpec, RouteSpec};
    use crate::uapi::RtnhFlags;
    let mut out = Vec::new();
    for d in &ns.devices {
        if !d.is_up() || d.is_loopback() || Some(d.ifindex) == iif {
            continue;
        }
        if ns.in_dev(d.ifindex).is_none_or(|i| i.ifa_list.is_empty()) {
            continue;
        }
        let gw = ns
            .neigh
            .iter()
            .find(|n| {
                n.dev == d.ifindex
                    && n.state.is_valid()
                    && ns.subnet_of(d.ifindex, n.ip)
                    && ns.inet_lookup_ifaddr(n.ip).is_none()
            })
            .map(|n| n.ip);
        let mut spec = RouteSpec::new(RouteType::RTN_UNICAST, Ipv4Addr::UNSPECIFIED, 0);
        spec.nexthops = vec![NexthopSpec {
            gw,
            dev: Some(d.ifindex),
            weight: 1,
            flags: RtnhFlags(0),
        }];
        let mut alt = ns.clone();
        if alt.fib_table_insert(&spec, false).is_err() {
            continue;
        }
        alt.rt_cache_flush();
        let change = match gw {
            Some(g) => format!("ip route add default via {g} dev {}", d.name),
            None => format!("ip route add default dev {}", d.name),
        };
        out.push((change, alt));
    }
    out
}

/// The reject route of `table` whose error a lookup of `daddr` returned:
/// the longest prefix covering `daddr` with a route of that table whose
/// type has that error (`fib_props`).
fn reject_route_for(
    ns: &Netns,
    table: u32,
    daddr: Ipv4Addr,
    e: crate::uapi::Errno,
) -> Option<(u32, RouteType, Ipv4Addr, u8)> {
    let key = u32::from(daddr);
    let mut best: Option<(u32, RouteType, Ipv4Addr, u8)> = None;
    for t in ns.fib.tables.values() {
        let mut max = 32u8;
        while let Some((addr, len, aliases)) = t.trie.lookup_max(key, max) {
            let hit = aliases.iter().find(|a| {
                a.tb_id == table && crate::ipv4::fib_semantics::fib_props(a.fa_type).0 == Some(e)
            });
            if let Some(a) = hit {
                if best.is_none_or(|b| len > b.3) {
                    best = Some((table, a.fa_type, Ipv4Addr::from(addr), len));
                }
                break;
            }
            if len == 0 {
                break;
            }
            max = len - 1;
        }
    }
    best
}

/// Removes the first route of type `rt_type` at `prefix/len` that belongs
/// to `table` (wherever that table's routes are kept), as `ip route del`
/// does; the prefix goes when its last route does.
fn remove_route(ns: &mut Netns, table: u32, rt_type: RouteType, prefix: Ipv4Addr, len: u8) -> bool {
    let key = u32::from(prefix);
    for t in ns.fib.tables.values_mut() {
        let Some(aliases) = t.trie.get_mut(key, len) else {
            continue;
        };
        let Some(i) = aliases
            .iter()
            .position(|a| a.tb_id == table && a.fa_type == rt_type)
        else {
            continue;
        };
        aliases.remove(i);
        if aliases.is_empty() {
            t.trie.remove(key, len);
        }
        return true;
    }
    false
}

/// Whether `a` is a private (RFC 1918) or shared (RFC 6598) address, whose
/// replies from the Internet cannot come back without NAT.
pub fn is_private(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)
}
