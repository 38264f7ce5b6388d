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
    steps[..=end]
        .iter()
        .rev()
        .copied()
        .find(|s| is_condition(&s.check))
        .or(Some(steps[end]))
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
        .find(|s| s.func == func && is_condition(&s.check))
        .or(Some(steps[end]))
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
    Explanation {
        answer,
        deciding,
        counterfactuals,
    }
}

/// Whether `a` is a private (RFC 1918) or shared (RFC 6598) address, whose
/// replies from the Internet cannot come back without NAT.
pub fn is_private(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)
}
