//! Models net/netfilter/nf_tables_core.c: `nft_do_chain`, the walk of a base
//! chain's rules for one packet — each rule's expressions in order until
//! one breaks, verdicts with a jump stack for `jump`/`goto`/`return`, and
//! the base chain's policy at the end.

use crate::netfilter::Netfilter;
use crate::netfilter::conntrack::{NfConntrack, Nfct};
use crate::netfilter::core::{NfEvent, NfEventKind, NfHookState, NfPacket, NfVerdict};
use crate::netfilter::nf_tables::nft_counter::nft_counter_eval;
use crate::netfilter::nf_tables::nft_ct::{nft_ct_get, nft_ct_set_mark};
use crate::netfilter::nf_tables::nft_fib::{nft_fib4_eval, nft_fib4_eval_type};
use crate::netfilter::nf_tables::nft_immediate::nf_verdict;
use crate::netfilter::nf_tables::nft_limit::nft_limit_eval;
use crate::netfilter::nf_tables::nft_log::nft_log_eval;
use crate::netfilter::nf_tables::nft_lookup::{nft_cmp, nft_map_lookup};
use crate::netfilter::nf_tables::nft_meta::{nft_meta_get, nft_meta_set_mark};
use crate::netfilter::nf_tables::nft_nat::{nat_from_map_data, nft_nat_eval};
use crate::netfilter::nf_tables::nft_payload::nft_payload_load;
use crate::netfilter::nf_tables::nft_reject::nft_reject_eval;
use crate::netfilter::nf_tables::{
    FibResultKind, NftExpr, NftKey, NftMapData, NftNatAddr, NftPolicy, NftRule, NftSet,
    NftSetValue, NftTable, NftValue, NftVerdict,
};
use crate::netfilter::xtables::eval::NfPktInfo;
use crate::netns::Netns;
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};

/// `NFT_JUMP_STACK_SIZE`.
pub const NFT_JUMP_STACK_SIZE: usize = 16;

/// What the packet looks like to the expressions.
struct Cx<'a> {
    ns: &'a Netns,
    state: &'a NfHookState,
    p: &'a NfPktInfo,
    mark: u32,
    nfct: Nfct,
}

/// Loads `k` into `out[at..]` (`nft_*_eval` into registers); the number of
/// values written, or None when the expression breaks the rule.
fn load(
    k: &NftKey,
    c: &Cx<'_>,
    ct: &NfConntrack,
    out: &mut [NftValue],
    at: usize,
) -> Option<usize> {
    if at >= out.len() {
        return None;
    }
    let v = match k {
        NftKey::Payload(f) => NftValue::Int(nft_payload_load(*f, c.p)?),
        NftKey::Meta(m) => nft_meta_get(*m, c.ns, c.state, c.p, c.mark),
        NftKey::Ct { key, dir } => nft_ct_get(*key, *dir, c.nfct, ct)?,
        NftKey::Fib { flags, result } => match result {
            FibResultKind::Type => nft_fib4_eval_type(*flags, c.ns, c.p),
            _ => nft_fib4_eval(*flags, *result, c.ns, c.state, c.p, c.mark),
        },
        NftKey::Concat(ks) => {
            let mut n = 0;
            for k in ks {
                n += load(k, c, ct, out, at + n)?;
            }
            return Some(n);
        }
        NftKey::And(k, m) => {
            load(k, c, ct, out, at)?;
            NftValue::Int(out[at].int() & m)
        }
    };
    out[at] = v;
    Some(1)
}

/// How a rule ended.
enum RuleOut {
    /// A match failed (or a vmap found nothing): the next rule.
    Break,
    /// Every expression ran without a verdict: the next rule.
    Done,
    /// A verdict.
    Verdict(NftVerdict),
}

/// Indices of the rule being run, for events.
#[derive(Clone, Copy)]
struct At {
    table: u16,
    chain: u16,
    rule: u16,
}

fn eval_set_value(v: &NftSetValue, c: &Cx<'_>, ct: &NfConntrack) -> Option<u32> {
    match v {
        NftSetValue::Imm(x) => Some(*x),
        NftSetValue::Key(k) => {
            let mut out = [NftValue::Int(0); 1];
            load(k, c, ct, &mut out, 0)?;
            Some(out[0].int() as u32)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn eval_rule(
    nf: &mut Netfilter,
    rule: &mut NftRule,
    sets: &[NftSet],
    at: At,
    ns: &Netns,
    state: &NfHookState,
    p: &NfPktInfo,
    pkt: &mut NfPacket<'_>,
) -> RuleOut {
    let len = p.tot_len as u32;
    let now_ns = ns.jiffies.saturating_mul(1_000_000_000 / crate::HZ);
    let NftRule {
        exprs, counters, ..
    } = rule;
    let mut vals = [NftValue::Int(0); 8];
    for e in exprs.iter_mut() {
        let c = Cx {
            ns,
            state,
            p,
            mark: pkt.mark,
            nfct: *pkt.nfct,
        };
        match e {
            NftExpr::Match { left, op, right } => {
                let Some(n) = load(left, &c, &nf.ct, &mut vals, 0) else {
                    return RuleOut::Break;
                };
                if !nft_cmp(*op, right, &vals[..n], sets) {
                    return RuleOut::Break;
                }
            }
            NftExpr::Counter => nft_counter_eval(counters, len),
            NftExpr::Limit(l, st) => {
                if !nft_limit_eval(l, st, now_ns, len) {
                    return RuleOut::Break;
                }
            }
            NftExpr::Log { .. } => {
                nft_log_eval(&mut nf.trail, state.hook, at.table, at.chain, at.rule)
            }
            NftExpr::Verdict(v) => return RuleOut::Verdict(*v),
            NftExpr::Vmap { key, map } => {
                let Some(n) = load(key, &c, &nf.ct, &mut vals, 0) else {
                    return RuleOut::Break;
                };
                return match nft_map_lookup(map, &vals[..n], sets) {
                    Some(NftMapData::Verdict(v)) => RuleOut::Verdict(*v),
                    _ => RuleOut::Break,
                };
            }
            NftExpr::Nat(nat) => {
                let (addr, ports) = match &nat.addr {
                    None => (None, nat.ports),
                    Some(NftNatAddr::Range(a, b)) => (Some((*a, *b)), nat.ports),
                    Some(NftNatAddr::Map { key, map }) => {
                        let Some(n) = load(key, &c, &nf.ct, &mut vals, 0) else {
                            return RuleOut::Break;
                        };
                        let Some((a, pr)) =
                            nft_map_lookup(map, &vals[..n], sets).and_then(nat_from_map_data)
                        else {
                            return RuleOut::Break;
                        };
                        (Some(a), pr.or(nat.ports))
                    }
                };
                let v = nft_nat_eval(&mut nf.ct, ns, state, nat, addr, ports, *pkt.nfct);
                return RuleOut::Verdict(match v {
                    NfVerdict::Accept => NftVerdict::Accept,
                    NfVerdict::Drop => NftVerdict::Drop,
                });
            }
            NftExpr::Reject(with) => {
                nft_reject_eval(&mut nf.trail, state.hook, *with);
                return RuleOut::Verdict(NftVerdict::Drop);
            }
            NftExpr::Notrack => {
                if *pkt.nfct == Nfct::None {
                    *pkt.nfct = Nfct::Untracked;
                }
            }
            NftExpr::MetaMarkSet(v) => {
                if let Some(x) = eval_set_value(v, &c, &nf.ct) {
                    nft_meta_set_mark(&mut pkt.mark, x);
                }
            }
            NftExpr::CtMarkSet(v) => {
                if let Some(x) = eval_set_value(v, &c, &nf.ct) {
                    nft_ct_set_mark(*pkt.nfct, &mut nf.ct, x);
                }
            }
            NftExpr::Unsupported { matches, .. } => {
                nf.trail.push(NfEvent {
                    hook: state.hook,
                    kind: NfEventKind::NftUnmodelled {
                        table: at.table,
                        chain: at.chain,
                        rule: at.rule,
                    },
                });
                if *matches {
                    return RuleOut::Break;
                }
            }
        }
    }
    RuleOut::Done
}

/// Kernel: `nft_do_chain`: runs base chain `chain` of `nf.nft[table]` over
/// the packet. Reads: the packet, its mark and conntrack entry, the
/// namespace's devices and routes (`fib`). Sets: rule and policy counters,
/// `pkt.mark`, `pkt.nfct` (`notrack`), NAT bindings, `nf.trail`. Returns:
/// the hook verdict (a `reject` leaves its answer in `nf.trail.reject`).
pub fn nft_do_chain<T: Tracer>(
    nf: &mut Netfilter,
    ns: &Netns,
    table: usize,
    chain: usize,
    state: NfHookState,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> NfVerdict {
    let p = NfPktInfo::parse(pkt.data);
    // The tables are read in place while the expressions write counters,
    // buckets and conntrack through `nf`.
    let mut tables = std::mem::take(&mut nf.nft);
    let v = match tables.get_mut(table) {
        Some(tb) => do_chain(nf, tb, ns, table, chain, &state, &p, pkt, t),
        None => NfVerdict::Accept,
    };
    nf.nft = tables;
    v
}

#[allow(clippy::too_many_arguments)]
fn do_chain<T: Tracer>(
    nf: &mut Netfilter,
    tb: &mut NftTable,
    ns: &Netns,
    ti: usize,
    base: usize,
    state: &NfHookState,
    p: &NfPktInfo,
    pkt: &mut NfPacket<'_>,
    t: &mut T,
) -> NfVerdict {
    let Some(basechain) = tb.chains.get(base).and_then(|c| c.base) else {
        return NfVerdict::Accept;
    };
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::nft_do_chain,
            Check::NftChain {
                table: ti as u16,
                chain: base as u16,
            },
            Branch::Next,
        ));
    }
    let NftTable { chains, sets, .. } = tb;
    let mut stack = [(0usize, 0usize); NFT_JUMP_STACK_SIZE];
    let mut depth = 0usize;
    let (mut ci, mut ri) = (base, 0usize);
    loop {
        if ri >= chains[ci].rules.len() {
            // The end of a regular chain returns; of the base chain, the policy.
            if depth > 0 {
                depth -= 1;
                (ci, ri) = stack[depth];
                continue;
            }
            break;
        }
        let at = At {
            table: ti as u16,
            chain: ci as u16,
            rule: ri as u16,
        };
        let out = eval_rule(nf, &mut chains[ci].rules[ri], sets, at, ns, state, p, pkt);
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::nft_do_chain,
                Check::NftRule {
                    table: at.table,
                    chain: at.chain,
                    rule: at.rule,
                    matched: !matches!(out, RuleOut::Break),
                },
                Branch::Next,
            ));
        }
        let v = match out {
            RuleOut::Break | RuleOut::Done => {
                ri += 1;
                continue;
            }
            RuleOut::Verdict(v) => v,
        };
        if let Some(hv) = nf_verdict(v) {
            nf.trail.push(NfEvent {
                hook: state.hook,
                kind: NfEventKind::NftRule {
                    table: at.table,
                    chain: at.chain,
                    rule: at.rule,
                    verdict: hv,
                },
            });
            return hv;
        }
        match v {
            NftVerdict::Continue => ri += 1,
            NftVerdict::Return => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                (ci, ri) = stack[depth];
            }
            NftVerdict::Jump(c) => {
                if depth < NFT_JUMP_STACK_SIZE {
                    stack[depth] = (ci, ri + 1);
                    depth += 1;
                }
                (ci, ri) = (c as usize, 0);
            }
            NftVerdict::Goto(c) => (ci, ri) = (c as usize, 0),
            NftVerdict::Accept | NftVerdict::Drop => unreachable!("terminal above"),
        }
        if ci >= chains.len() {
            break;
        }
    }
    let c = &mut chains[base];
    c.counters.add(p.tot_len as u32);
    let v = match basechain.policy {
        NftPolicy::Accept => NfVerdict::Accept,
        NftPolicy::Drop => NfVerdict::Drop,
    };
    nf.trail.push(NfEvent {
        hook: state.hook,
        kind: NfEventKind::NftPolicy {
            table: ti as u16,
            chain: base as u16,
            verdict: v,
        },
    });
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::nft_do_chain,
            Check::NftPolicy {
                table: ti as u16,
                chain: base as u16,
                accept: v == NfVerdict::Accept,
            },
            if v == NfVerdict::Accept {
                Branch::Next
            } else {
                Branch::out
            },
        ));
    }
    v
}
