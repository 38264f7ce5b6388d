//! Models net/ipv4/fib_rules.c and the `fib_lookup` entry of
//! include/net/ip_fib.h: the IPv4 rule selectors (`fib4_rule_match`), actions
//! (`fib4_rule_action`) and suppressors (`fib4_rule_suppress`), the rule walk
//! (`fib_rules_lookup`, net/core/fib_rules.c), and the fast path taken while
//! the namespace has never had a custom rule.

use crate::core::fib_rules::{FibRule, FibRuleAction};
use crate::flow::{FibResult, Flowi4};
use crate::ipv4::devinet::prefix_mask;
use crate::ipv4::fib_trie::{INET_DSCP_LEGACY_TOS_MASK, fib_table_lookup};
use crate::netns::{Netns, rt_table};
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};
use crate::uapi::Errno;

/// Kernel: `fib_lookup`: while the namespace has no custom rules, look up
/// `main` (which holds `local` merged into it), and only if nothing matched
/// there, `default`; otherwise walk the rules (`__fib_lookup`). "Nothing
/// found" (`EAGAIN`/`ESRCH`) becomes `ENETUNREACH`.
pub fn fib_lookup<T: Tracer>(
    ns: &Netns,
    flp: &Flowi4,
    fib_flags: u32,
    t: &mut T,
) -> Result<FibResult, Errno> {
    t.enter(KernelFn::fib_lookup);
    let r = if !ns.fib.has_custom_rules {
        let mut r = fib_table_lookup(
            ns,
            &[rt_table::RT_TABLE_LOCAL, rt_table::RT_TABLE_MAIN],
            rt_table::RT_TABLE_MAIN,
            flp,
            fib_flags,
        );
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::fib_table_lookup,
                Check::TableLookup {
                    table: rt_table::RT_TABLE_MAIN,
                    result: r.into(),
                },
                Branch::Next,
            ));
        }
        if r == Err(Errno::EAGAIN) && ns.fib.tables.contains_key(&rt_table::RT_TABLE_DEFAULT) {
            r = fib_table_lookup(
                ns,
                &[rt_table::RT_TABLE_DEFAULT],
                rt_table::RT_TABLE_DEFAULT,
                flp,
                fib_flags,
            );
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::fib_table_lookup,
                    Check::TableLookup {
                        table: rt_table::RT_TABLE_DEFAULT,
                        result: r.into(),
                    },
                    Branch::Next,
                ));
            }
        }
        match r {
            Err(Errno::EAGAIN) => Err(Errno::ENETUNREACH),
            r => r,
        }
    } else {
        match fib_rules_lookup(ns, flp, fib_flags, t) {
            Err(Errno::ESRCH) | Err(Errno::EAGAIN) => Err(Errno::ENETUNREACH),
            r => r,
        }
    };
    t.leave();
    r
}

/// Kernel: `fib_rules_lookup`: the first matching rule whose action gives an
/// answer other than `EAGAIN` decides; `goto` continues at its target, `nop`
/// and a suppressed result at the next rule. No answer: `ESRCH`.
pub fn fib_rules_lookup<T: Tracer>(
    ns: &Netns,
    flp: &Flowi4,
    fib_flags: u32,
    t: &mut T,
) -> Result<FibResult, Errno> {
    let rules = &ns.fib.rules;
    let mut i = 0;
    while i < rules.len() {
        let rule = &rules[i];
        let m = fib_rule_match(rule, flp);
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::fib_rules_lookup,
                Check::RuleMatch {
                    pref: rule.pref,
                    matched: m,
                },
                Branch::Next,
            ));
        }
        if !m {
            i += 1;
            continue;
        }
        match rule.action {
            FibRuleAction::FR_ACT_GOTO => match rule.ctarget {
                Some(target) => {
                    i = target;
                    continue;
                }
                None => {
                    i += 1;
                    continue;
                }
            },
            FibRuleAction::FR_ACT_NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let r = fib4_rule_action(ns, rule, flp, fib_flags);
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::fib4_rule_action,
                Check::RuleAction {
                    pref: rule.pref,
                    table: rule.table,
                    result: r.into(),
                },
                Branch::Next,
            ));
        }
        if let Ok(res) = &r
            && fib4_rule_suppress(ns, rule, res)
        {
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::fib4_rule_suppress,
                    Check::RuleSuppressed { pref: rule.pref },
                    Branch::Next,
                ));
            }
            i += 1;
            continue;
        }
        if r != Err(Errno::EAGAIN) {
            return r;
        }
        i += 1;
    }
    Err(Errno::ESRCH)
}

/// Kernel: `fib_rule_match` + `fib4_rule_match`: every selector must hold;
/// `not` inverts the result.
pub fn fib_rule_match(rule: &FibRule, flp: &Flowi4) -> bool {
    let m = (|| {
        if let Some(i) = rule.iifindex
            && i != flp.flowi4_iif
        {
            return false;
        }
        if let Some(o) = rule.oifindex
            && o != flp.flowi4_oif
        {
            return false;
        }
        if (rule.mark ^ flp.flowi4_mark) & rule.mark_mask != 0 {
            return false;
        }
        if let Some((lo, hi)) = rule.uid_range
            && (flp.flowi4_uid < lo || flp.flowi4_uid > hi)
        {
            return false;
        }
        if let Some((a, l)) = rule.src
            && (u32::from(flp.saddr) ^ u32::from(a)) & prefix_mask(l) != 0
        {
            return false;
        }
        if let Some((a, l)) = rule.dst
            && (u32::from(flp.daddr) ^ u32::from(a)) & prefix_mask(l) != 0
        {
            return false;
        }
        if let Some(d) = rule.dscp {
            if (d ^ (flp.flowi4_dscp >> 2)) & 0x3f != 0 {
                return false;
            }
        } else if rule.tos != 0 && rule.tos != flp.flowi4_dscp & INET_DSCP_LEGACY_TOS_MASK {
            return false;
        }
        if rule.ip_proto != 0 && rule.ip_proto != flp.flowi4_proto {
            return false;
        }
        if let Some((lo, hi)) = rule.sport
            && (flp.fl4_sport < lo || flp.fl4_sport > hi)
        {
            return false;
        }
        if let Some((lo, hi)) = rule.dport
            && (flp.fl4_dport < lo || flp.fl4_dport > hi)
        {
            return false;
        }
        true
    })();
    m != rule.invert
}

/// Kernel: `fib4_rule_action`: `unreachable` is `ENETUNREACH`, `prohibit`
/// `EACCES`, `blackhole` `EINVAL`; `lookup` of a table that does not exist
/// is `EAGAIN` (try the next rule).
pub fn fib4_rule_action(
    ns: &Netns,
    rule: &FibRule,
    flp: &Flowi4,
    fib_flags: u32,
) -> Result<FibResult, Errno> {
    match rule.action {
        FibRuleAction::FR_ACT_TO_TBL => {}
        FibRuleAction::FR_ACT_UNREACHABLE => return Err(Errno::ENETUNREACH),
        FibRuleAction::FR_ACT_PROHIBIT => return Err(Errno::EACCES),
        _ => return Err(Errno::EINVAL),
    }
    if ns.fib.tables.contains_key(&rule.table) {
        fib_table_lookup(ns, &[rule.table], rule.table, flp, fib_flags)
    } else {
        Err(Errno::EAGAIN)
    }
}

/// Kernel: `fib4_rule_suppress`: discard a result whose prefix is not longer
/// than `suppress_prefixlength`, or whose first next hop's device is in
/// `suppress_ifgroup`.
pub fn fib4_rule_suppress(ns: &Netns, rule: &FibRule, res: &FibResult) -> bool {
    if (res.prefixlen as i32) <= rule.suppress_prefixlen {
        return true;
    }
    if rule.suppress_ifgroup != -1
        && let Some(fi) = res.fi
        && let Some(nh) = ns.fib.info(fi).fib_nh.first()
        && ns
            .dev(nh.nh_dev)
            .is_some_and(|d| d.group as i32 == rule.suppress_ifgroup)
    {
        return true;
    }
    false
}
