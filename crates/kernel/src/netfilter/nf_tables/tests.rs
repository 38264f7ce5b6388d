//! nftables base chains on the lab router (r0 10.0.1.1/24 client side, r1
//! 10.0.2.1/24 server side): policies, interface matches, verdict maps,
//! jumps and gotos, conntrack state, the reverse-path `fib` check, address
//! types, reject, counters and limits.

use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::SkbDropReason as R;
use crate::core::dev::{RxOutcome, Verdict, netif_receive_skb};
use crate::netfilter::conntrack::{IpConntrackInfo, NfConn, NfConntrackTuple, Nfct};
use crate::netfilter::core::{NfEventKind, NfHookState, NfPacket, NfVerdict};
use crate::netfilter::nf_tables::*;
use crate::netfilter::{Netfilter, NfInetHook};
use crate::netns::{IfIndex, Netns};
use crate::testutil::{HostBuilder, echo_frame};
use crate::trace::{NoTrace, Recorder};

const R0_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn rx(ns: &mut Netns, frame: &mut [u8]) -> RxOutcome {
    let r0 = ns.dev_by_name("r0").unwrap().ifindex;
    let mut copy = frame.to_vec();
    let mut twin = ns.clone();
    let a = netif_receive_skb(ns, frame, r0, &mut NoTrace);
    let b = netif_receive_skb(&mut twin, &mut copy, r0, &mut Recorder::new());
    assert_eq!(a, b, "traced and untraced outcomes differ");
    assert_eq!(ns.mib, twin.mib, "traced and untraced counters differ");
    a
}

fn rule(exprs: Vec<NftExpr>) -> NftRule {
    NftRule {
        handle: 0,
        exprs,
        comment: None,
        text: Arc::from(""),
        counters: Default::default(),
        saved: Default::default(),
    }
}

fn base(
    name: &str,
    hook: NfInetHook,
    priority: i32,
    policy: NftPolicy,
    rules: Vec<NftRule>,
) -> NftChain {
    NftChain {
        name: name.into(),
        handle: 0,
        base: Some(NftBaseChain {
            ty: NftChainType::Filter,
            hook,
            priority,
            policy,
        }),
        rules,
        counters: Default::default(),
    }
}

fn regular(name: &str, rules: Vec<NftRule>) -> NftChain {
    NftChain {
        name: name.into(),
        handle: 0,
        base: None,
        rules,
        counters: Default::default(),
    }
}

fn table(family: NftFamily, chains: Vec<NftChain>, sets: Vec<NftSet>) -> NftTable {
    NftTable {
        family,
        name: "t".into(),
        chains,
        sets,
    }
}

fn name(s: &str) -> NftValue {
    NftValue::Name(IfName::new(s))
}

fn eq(left: NftKey, v: NftValue) -> NftExpr {
    NftExpr::Match {
        left,
        op: NftCmpOp::Eq,
        right: NftRhs::Elem(NftElem::Val(v)),
    }
}

fn iifname(s: &str) -> NftExpr {
    eq(NftKey::Meta(MetaKey::Iifname), name(s))
}

fn oifname(s: &str) -> NftExpr {
    eq(NftKey::Meta(MetaKey::Oifname), name(s))
}

fn v(x: NftVerdict) -> NftExpr {
    NftExpr::Verdict(x)
}

fn with_nft(mut ns: Netns, nft: Vec<NftTable>) -> Netns {
    let mut nf = Netfilter {
        nft,
        ..Default::default()
    };
    nf.register_hooks();
    ns.nf = Some(Box::new(nf));
    ns
}

fn forwarding_router() -> Netns {
    HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .build()
}

fn chain_of<'a>(ns: &'a Netns, chain: &str) -> &'a NftChain {
    let t = &ns.nf.as_ref().unwrap().nft[0];
    &t.chains[t.chain_index(chain).unwrap()]
}

fn rule_pcnt(ns: &Netns, chain: &str) -> Vec<u64> {
    chain_of(ns, chain)
        .rules
        .iter()
        .map(|r| r.counters.pcnt)
        .collect()
}

fn fwd_drop_policy(rules: Vec<NftRule>, more: Vec<NftChain>, sets: Vec<NftSet>) -> Netns {
    let mut chains = vec![base("fwd", NfInetHook::Forward, 0, NftPolicy::Drop, rules)];
    chains.extend(more);
    with_nft(
        forwarding_router(),
        vec![table(NftFamily::Ip, chains, sets)],
    )
}

fn ping(src: &str, dst: &str) -> Vec<u8> {
    echo_frame(R0_MAC, src, dst, 64, 56)
}

#[test]
fn forward_policy_drop_with_accept_by_iifname_oifname() {
    let accept = rule(vec![
        iifname("r0"),
        oifname("r1"),
        NftExpr::Counter,
        v(NftVerdict::Accept),
    ]);
    let wrong_way = rule(vec![iifname("r1"), NftExpr::Counter, v(NftVerdict::Accept)]);
    let mut ns = fwd_drop_policy(vec![wrong_way, accept], vec![], vec![]);
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2"));
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Forward, None));
    assert_eq!(ns.tx.frames.len(), 1);
    let c = chain_of(&ns, "fwd");
    assert_eq!(
        (
            c.counters.pcnt,
            c.rules[0].counters.pcnt,
            c.rules[1].counters
        ),
        (
            0,
            0,
            crate::netfilter::xtables::ip_tables::XtCounters { pcnt: 1, bcnt: 84 }
        )
    );
    let nf = ns.nf.as_ref().unwrap();
    assert!(nf.trail.events().any(|e| e.kind
        == NfEventKind::NftRule {
            table: 0,
            chain: 0,
            rule: 1,
            verdict: NfVerdict::Accept
        }));
}

#[test]
fn forward_policy_drop_is_netfilter_drop_and_counts_the_policy() {
    let mut ns = fwd_drop_policy(
        vec![rule(vec![iifname("r1"), v(NftVerdict::Accept)])],
        vec![],
        vec![],
    );
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2"));
    assert_eq!(
        (o.verdict, o.drop_reason),
        (Verdict::Drop, Some(R::NETFILTER_DROP))
    );
    assert!(ns.tx.frames.is_empty());
    let c = chain_of(&ns, "fwd");
    assert_eq!((c.counters.pcnt, c.counters.bcnt), (1, 84));
    let nf = ns.nf.as_ref().unwrap();
    assert_eq!(
        nf.trail.events().last().map(|e| (e.hook, e.kind)),
        Some((
            NfInetHook::Forward,
            NfEventKind::NftPolicy {
                table: 0,
                chain: 0,
                verdict: NfVerdict::Drop
            }
        ))
    );
}

#[test]
fn anonymous_vmap_on_iifname_jumps_to_the_device_chain() {
    // iifname vmap { "r0" : jump from_r0, "r1" : jump from_r1 }
    let vmap = rule(vec![NftExpr::Vmap {
        key: NftKey::Meta(MetaKey::Iifname),
        map: NftMapRef::Anon(vec![
            (
                NftElem::Val(name("r0")),
                NftMapData::Verdict(NftVerdict::Jump(1)),
            ),
            (
                NftElem::Val(name("r1")),
                NftMapData::Verdict(NftVerdict::Jump(2)),
            ),
        ]),
    }]);
    let from_r0 = regular(
        "from_r0",
        vec![rule(vec![NftExpr::Counter, v(NftVerdict::Drop)])],
    );
    let from_r1 = regular(
        "from_r1",
        vec![rule(vec![NftExpr::Counter, v(NftVerdict::Accept)])],
    );
    let mut ns = fwd_drop_policy(vec![vmap], vec![from_r0, from_r1], vec![]);
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2"));
    assert_eq!(o.drop_reason, Some(R::NETFILTER_DROP));
    assert_eq!(
        (rule_pcnt(&ns, "from_r0"), rule_pcnt(&ns, "from_r1")),
        (vec![1], vec![0])
    );
    assert_eq!(chain_of(&ns, "fwd").counters.pcnt, 0);
    let nf = ns.nf.as_ref().unwrap();
    assert!(nf.trail.events().any(|e| e.kind
        == NfEventKind::NftRule {
            table: 0,
            chain: 1,
            rule: 0,
            verdict: NfVerdict::Drop
        }));
}

#[test]
fn named_vmap_goto_and_a_miss_falls_to_the_next_rule() {
    // oifname vmap @out (r1 : goto to_r1); a packet to another device
    // finds no element and the next rule runs.
    let out = NftSet {
        name: "out".into(),
        key: vec![NftType::Ifname],
        elems: vec![(
            NftElem::Val(name("r1")),
            Some(NftMapData::Verdict(NftVerdict::Goto(1))),
        )],
        is_map: true,
    };
    let rules = vec![
        rule(vec![NftExpr::Vmap {
            key: NftKey::Meta(MetaKey::Oifname),
            map: NftMapRef::Named(0),
        }]),
        rule(vec![NftExpr::Counter]),
    ];
    let to_r1 = regular(
        "to_r1",
        vec![rule(vec![
            eq(
                NftKey::Payload(PayloadField::IpSaddr),
                NftValue::addr(Ipv4Addr::new(10, 0, 1, 2)),
            ),
            NftExpr::Counter,
            v(NftVerdict::Accept),
        ])],
    );
    let mut ns = fwd_drop_policy(rules, vec![to_r1], vec![out]);
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2"));
    assert_eq!(o.verdict, Verdict::Forward);
    assert_eq!(rule_pcnt(&ns, "to_r1"), vec![1]);
    // Back out through r0: no element for r0, the counter rule then the policy.
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.1.3"));
    assert_eq!(o.drop_reason, Some(R::NETFILTER_DROP));
    assert_eq!(rule_pcnt(&ns, "fwd"), vec![0, 1]);
    assert_eq!(chain_of(&ns, "fwd").counters.pcnt, 1);
}

#[test]
fn jump_return_goto_walk() {
    // fwd: jump a ; goto b ; accept   a: meta l4proto icmp return   b: counter drop
    let fwd = vec![
        rule(vec![v(NftVerdict::Jump(1))]),
        rule(vec![v(NftVerdict::Goto(2))]),
        rule(vec![v(NftVerdict::Accept)]),
    ];
    let a = regular(
        "a",
        vec![rule(vec![
            eq(NftKey::Meta(MetaKey::L4proto), NftValue::Int(1)),
            NftExpr::Counter,
            v(NftVerdict::Return),
        ])],
    );
    let b = regular("b", vec![rule(vec![NftExpr::Counter, v(NftVerdict::Drop)])]);
    let mut ns = fwd_drop_policy(fwd, vec![a, b], vec![]);
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2"));
    assert_eq!(o.drop_reason, Some(R::NETFILTER_DROP));
    assert_eq!(
        (rule_pcnt(&ns, "a"), rule_pcnt(&ns, "b")),
        (vec![1], vec![1])
    );
    assert_eq!(chain_of(&ns, "fwd").counters.pcnt, 0);
}

fn ct_chain() -> NftTable {
    // ct state established,related accept ; ct state invalid counter drop ; policy drop
    let st = NftKey::Ct {
        key: CtKey::State,
        dir: None,
    };
    table(
        NftFamily::Inet,
        vec![base(
            "fwd",
            NfInetHook::Forward,
            0,
            NftPolicy::Drop,
            vec![
                rule(vec![
                    NftExpr::Match {
                        left: st.clone(),
                        op: NftCmpOp::In,
                        right: NftRhs::Flags(ct_state::ESTABLISHED | ct_state::RELATED),
                    },
                    NftExpr::Counter,
                    v(NftVerdict::Accept),
                ]),
                rule(vec![
                    NftExpr::Match {
                        left: st,
                        op: NftCmpOp::In,
                        right: NftRhs::Flags(ct_state::INVALID),
                    },
                    NftExpr::Counter,
                    v(NftVerdict::Drop),
                ]),
            ],
        )],
        vec![],
    )
}

fn run_fwd(ns: &Netns, nf: &mut Netfilter, nfct: &mut Nfct) -> NfVerdict {
    let mut frame = ping("10.0.2.2", "10.0.1.2");
    let state = NfHookState {
        hook: NfInetHook::Forward,
        indev: ns.dev_by_name("r1").unwrap().ifindex,
        outdev: ns.dev_by_name("r0").unwrap().ifindex,
        nexthop: Ipv4Addr::new(10, 0, 1, 2),
        nf_bridge: None,
    };
    let mut p = NfPacket {
        data: &mut frame[14..],
        mark: 0,
        nfct,
    };
    nft_do_chain(nf, ns, 0, 0, state, &mut p, &mut NoTrace)
}

#[test]
fn ct_state_established_related_accept_invalid_drop_new_policy() {
    let ns = forwarding_router();
    let mut nf = Netfilter {
        nft: vec![ct_chain()],
        ..Default::default()
    };
    nf.register_hooks();
    // The rule uses ct: conntrack's hooks are registered.
    assert!(
        nf.hooks[NfInetHook::PreRouting as usize]
            .iter()
            .any(|h| h.kind == crate::netfilter::core::NfHookKind::ConntrackIn)
    );
    let t = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    let tuple = NfConntrackTuple {
        src: t("10.0.1.2"),
        dst: t("10.0.2.2"),
        protonum: 1,
        sport: 7,
        dport: 8 << 8,
    };
    nf.ct.conns.push(NfConn::new(tuple, tuple));
    let mut reply = Nfct::Ct {
        idx: 0,
        ctinfo: IpConntrackInfo::EstablishedReply,
    };
    let mut related = Nfct::Ct {
        idx: 0,
        ctinfo: IpConntrackInfo::Related,
    };
    let mut new = Nfct::Ct {
        idx: 0,
        ctinfo: IpConntrackInfo::New,
    };
    let mut invalid = Nfct::None;
    assert_eq!(run_fwd(&ns, &mut nf, &mut reply), NfVerdict::Accept);
    assert_eq!(run_fwd(&ns, &mut nf, &mut related), NfVerdict::Accept);
    assert_eq!(run_fwd(&ns, &mut nf, &mut invalid), NfVerdict::Drop);
    assert_eq!(run_fwd(&ns, &mut nf, &mut new), NfVerdict::Drop);
    let c = &nf.nft[0].chains[0];
    assert_eq!(
        (
            c.rules[0].counters.pcnt,
            c.rules[1].counters.pcnt,
            c.counters.pcnt
        ),
        (2, 1, 1)
    );
}

fn rpath_table() -> NftTable {
    // fib saddr . iif oif missing counter drop (prerouting, priority raw)
    table(
        NftFamily::Ip,
        vec![base(
            "rpf",
            NfInetHook::PreRouting,
            -300,
            NftPolicy::Accept,
            vec![rule(vec![
                NftExpr::Match {
                    left: NftKey::Fib {
                        flags: fib_flags::SADDR | fib_flags::IIF,
                        result: FibResultKind::Oif,
                    },
                    op: NftCmpOp::Eq,
                    right: NftRhs::Bool(false),
                },
                NftExpr::Counter,
                v(NftVerdict::Drop),
            ])],
        )],
        vec![],
    )
}

#[test]
fn fib_saddr_iif_oif_missing_drops_spoofed_sources() {
    let mut ns = with_nft(forwarding_router(), vec![rpath_table()]);
    // The route back to 10.0.1.2 leaves through r0: passes.
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2"));
    assert_eq!(o.verdict, Verdict::Forward);
    // 10.0.2.5 is reached through r1, not r0: dropped before the route decision.
    let o = rx(&mut ns, &mut ping("10.0.2.5", "10.0.2.2"));
    assert_eq!(
        (o.verdict, o.drop_reason, o.route.is_none()),
        (Verdict::Drop, Some(R::NETFILTER_DROP), true)
    );
    // No route at all back to 192.0.2.1: missing.
    let o = rx(&mut ns, &mut ping("192.0.2.1", "10.0.2.2"));
    assert_eq!(o.drop_reason, Some(R::NETFILTER_DROP));
    // The router's own address as source: a local route, missing too.
    let o = rx(&mut ns, &mut ping("10.0.1.1", "10.0.2.2"));
    assert_eq!(o.drop_reason, Some(R::NETFILTER_DROP));
    assert_eq!(rule_pcnt(&ns, "rpf"), vec![3]);
    assert_eq!(chain_of(&ns, "rpf").counters.pcnt, 1);
}

#[test]
fn fib_daddr_type_local_and_broadcast_at_input() {
    let ty = |t: u8| NftExpr::Match {
        left: NftKey::Fib {
            flags: fib_flags::DADDR,
            result: FibResultKind::Type,
        },
        op: NftCmpOp::Eq,
        right: NftRhs::Elem(NftElem::Val(NftValue::Int(t as u64))),
    };
    let t = table(
        NftFamily::Inet,
        vec![base(
            "in",
            NfInetHook::LocalIn,
            0,
            NftPolicy::Accept,
            vec![
                rule(vec![
                    ty(crate::uapi::RouteType::RTN_LOCAL.0),
                    NftExpr::Counter,
                ]),
                rule(vec![
                    ty(crate::uapi::RouteType::RTN_BROADCAST.0),
                    NftExpr::Counter,
                    v(NftVerdict::Drop),
                ]),
            ],
        )],
        vec![],
    );
    let mut ns = with_nft(forwarding_router(), vec![t]);
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.1.1"));
    assert_eq!(o.verdict, Verdict::Local);
    assert_eq!(rule_pcnt(&ns, "in"), vec![1, 0]);
}

#[test]
fn reject_in_forward_sends_host_prohibited() {
    let mut ns = fwd_drop_policy(
        vec![rule(vec![
            eq(NftKey::Meta(MetaKey::L4proto), NftValue::Int(1)),
            NftExpr::Reject(crate::netfilter::xtables::ip_tables::RejectWith::HostProhibited),
        ])],
        vec![],
        vec![],
    );
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2"));
    assert_eq!(
        (o.drop_reason, o.icmp.map(|i| (i.icmp_type, i.code))),
        (Some(R::NETFILTER_DROP), Some((3, 10)))
    );
}

#[test]
fn concat_set_prefix_range_and_wildcards() {
    // iifname . oifname @pairs, ip saddr { 10.0.1.0/24 }, ip daddr 10.0.2.1-10.0.2.9, iifname "r*"
    let pairs = NftSet {
        name: "pairs".into(),
        key: vec![NftType::Ifname, NftType::Ifname],
        elems: vec![(
            NftElem::Concat(vec![NftElem::Val(name("r0")), NftElem::Val(name("r1"))]),
            None,
        )],
        is_map: false,
    };
    let a = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap()) as u64;
    let r = rule(vec![
        NftExpr::Match {
            left: NftKey::Concat(vec![
                NftKey::Meta(MetaKey::Iifname),
                NftKey::Meta(MetaKey::Oifname),
            ]),
            op: NftCmpOp::Eq,
            right: NftRhs::Named(0),
        },
        NftExpr::Match {
            left: NftKey::Payload(PayloadField::IpSaddr),
            op: NftCmpOp::Eq,
            right: NftRhs::Set(vec![NftElem::Prefix {
                addr: a("10.0.1.0") as u32,
                len: 24,
            }]),
        },
        NftExpr::Match {
            left: NftKey::Payload(PayloadField::IpDaddr),
            op: NftCmpOp::Eq,
            right: NftRhs::Elem(NftElem::Range(a("10.0.2.1"), a("10.0.2.9"))),
        },
        NftExpr::Match {
            left: NftKey::Meta(MetaKey::Iifname),
            op: NftCmpOp::Eq,
            right: NftRhs::Elem(NftElem::Wildcard(IfName::new("r"))),
        },
        NftExpr::Match {
            left: NftKey::Payload(PayloadField::TcpDport),
            op: NftCmpOp::Ne,
            right: NftRhs::Elem(NftElem::Val(NftValue::Int(22))),
        },
        NftExpr::Counter,
        v(NftVerdict::Accept),
    ]);
    let mut ns = fwd_drop_policy(vec![r.clone()], vec![], vec![pairs.clone()]);
    // ICMP has no TCP header: `tcp dport != 22` breaks the rule.
    assert_eq!(
        rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2")).drop_reason,
        Some(R::NETFILTER_DROP)
    );
    let mut r2 = r;
    r2.exprs.remove(4);
    let mut ns = fwd_drop_policy(vec![r2], vec![], vec![pairs]);
    assert_eq!(
        rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2")).verdict,
        Verdict::Forward
    );
    assert_eq!(
        rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.20")).drop_reason,
        Some(R::NETFILTER_DROP)
    );
    assert_eq!(rule_pcnt(&ns, "fwd"), vec![1]);
}

#[test]
fn unsupported_match_is_marked_and_skips_the_rule() {
    let mut ns = fwd_drop_policy(
        vec![
            rule(vec![
                NftExpr::Unsupported {
                    name: "meta skuid".into(),
                    matches: true,
                },
                v(NftVerdict::Drop),
            ]),
            rule(vec![
                NftExpr::Unsupported {
                    name: "ct helper".into(),
                    matches: false,
                },
                v(NftVerdict::Accept),
            ]),
        ],
        vec![],
        vec![],
    );
    let o = rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2"));
    assert_eq!(o.verdict, Verdict::Forward);
    let nf = ns.nf.as_ref().unwrap();
    assert!(nf.trail.unmodelled());
    let marked: Vec<u16> = nf
        .trail
        .events()
        .filter_map(|e| match e.kind {
            NfEventKind::NftUnmodelled { rule, .. } => Some(rule),
            _ => None,
        })
        .collect();
    assert_eq!(marked, vec![0, 1]);
}

#[test]
fn limit_lets_the_burst_through_then_refills_at_the_rate() {
    let lim = NftLimit {
        rate: 1,
        unit_secs: 1,
        burst: 2,
        bytes: false,
        inv: false,
    };
    let mut ns = fwd_drop_policy(
        vec![rule(vec![
            NftExpr::Limit(lim, NftLimitState::default()),
            NftExpr::Counter,
            v(NftVerdict::Accept),
        ])],
        vec![],
        vec![],
    );
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push(rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2")).verdict);
    }
    ns.jiffies += crate::HZ; // one second later: one more token
    out.push(rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2")).verdict);
    out.push(rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2")).verdict);
    use Verdict::{Drop, Forward};
    assert_eq!(out, vec![Forward, Forward, Drop, Forward, Drop]);
}

#[test]
fn marks_set_and_matched_in_order() {
    let mark = NftKey::Meta(MetaKey::Mark);
    let mut ns = fwd_drop_policy(
        vec![
            rule(vec![NftExpr::MetaMarkSet(NftSetValue::Imm(0x10))]),
            rule(vec![
                eq(mark.clone(), NftValue::Int(0x10)),
                NftExpr::Counter,
                v(NftVerdict::Accept),
            ]),
        ],
        vec![],
        vec![],
    );
    assert_eq!(
        rx(&mut ns, &mut ping("10.0.1.2", "10.0.2.2")).verdict,
        Verdict::Forward
    );
    assert_eq!(rule_pcnt(&ns, "fwd"), vec![0, 1]);
}

#[test]
fn hooks_follow_chain_priorities_and_skip_other_families() {
    let mut t = table(
        NftFamily::Ip,
        vec![
            base("late", NfInetHook::Forward, 10, NftPolicy::Accept, vec![]),
            base("early", NfInetHook::Forward, -5, NftPolicy::Accept, vec![]),
        ],
        vec![],
    );
    t.name = "a".into();
    let six = table(
        NftFamily::Ip6,
        vec![base(
            "f",
            NfInetHook::Forward,
            -100,
            NftPolicy::Drop,
            vec![],
        )],
        vec![],
    );
    let ns = with_nft(forwarding_router(), vec![t, six]);
    let nf = ns.nf.as_ref().unwrap();
    let fwd: Vec<_> = nf.hooks[NfInetHook::Forward as usize]
        .iter()
        .map(|h| (h.priority, h.kind))
        .collect();
    use crate::netfilter::core::NfHookKind::Nft;
    assert_eq!(
        fwd,
        vec![
            (-5, Nft { table: 0, chain: 1 }),
            (10, Nft { table: 0, chain: 0 })
        ]
    );
    // No ct expression and no nat chain: no conntrack hooks.
    assert!(nf.hooks[NfInetHook::PreRouting as usize].is_empty());
    let _ = IfIndex(0);
}

#[test]
fn rule_text_reads_like_nft() {
    let t = table(
        NftFamily::Ip,
        vec![regular("x", vec![])],
        vec![NftSet {
            name: "m".into(),
            key: vec![NftType::Ifname],
            elems: vec![],
            is_map: true,
        }],
    );
    let exprs = vec![
        NftExpr::Match {
            left: NftKey::Meta(MetaKey::Oifname),
            op: NftCmpOp::Ne,
            right: NftRhs::Elem(NftElem::Val(name("docker0"))),
        },
        NftExpr::Match {
            left: NftKey::Payload(PayloadField::IpSaddr),
            op: NftCmpOp::Eq,
            right: NftRhs::Elem(NftElem::Prefix {
                addr: u32::from(Ipv4Addr::new(172, 17, 0, 0)),
                len: 16,
            }),
        },
        NftExpr::Match {
            left: NftKey::Ct {
                key: CtKey::State,
                dir: None,
            },
            op: NftCmpOp::In,
            right: NftRhs::Flags(ct_state::ESTABLISHED | ct_state::RELATED),
        },
        NftExpr::Counter,
        NftExpr::Vmap {
            key: NftKey::Meta(MetaKey::Iifname),
            map: NftMapRef::Named(0),
        },
        NftExpr::Nat(NftNat {
            kind: NftNatKind::Masquerade,
            addr: None,
            ports: None,
            random: false,
            random_fully: false,
            persistent: false,
        }),
        v(NftVerdict::Jump(0)),
    ];
    assert_eq!(
        t.rule_text(&exprs),
        "oifname != \"docker0\" ip saddr 172.17.0.0/16 ct state established,related counter iifname vmap @m masquerade jump x"
    );
}

#[test]
fn nat_statements_end_the_chain_and_a_map_miss_breaks_the_rule() {
    // dnat to ip daddr map { 10.0.2.9 : 10.0.2.2 . 80 } ; masquerade
    let a = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap()) as u64;
    let nat = |kind, addr| {
        NftExpr::Nat(NftNat {
            kind,
            addr,
            ports: None,
            random: false,
            random_fully: false,
            persistent: false,
        })
    };
    let dnat = nat(
        NftNatKind::Dnat,
        Some(NftNatAddr::Map {
            key: NftKey::Payload(PayloadField::IpDaddr),
            map: NftMapRef::Anon(vec![(
                NftElem::Val(NftValue::Int(a("10.0.2.9"))),
                NftMapData::Value(NftElem::Concat(vec![
                    NftElem::Val(NftValue::Int(a("10.0.2.2"))),
                    NftElem::Val(NftValue::Int(80)),
                ])),
            )]),
        }),
    );
    let mut chain = base(
        "post",
        NfInetHook::Forward,
        100,
        NftPolicy::Accept,
        vec![
            rule(vec![dnat, NftExpr::Counter]),
            rule(vec![NftExpr::Counter, nat(NftNatKind::Masquerade, None)]),
        ],
    );
    chain.base.as_mut().unwrap().ty = NftChainType::Nat;
    let ns = forwarding_router();
    let mut nf = Netfilter {
        nft: vec![table(NftFamily::Ip, vec![chain], vec![])],
        ..Default::default()
    };
    nf.register_hooks();
    let mut new = Nfct::Ct {
        idx: 0,
        ctinfo: IpConntrackInfo::New,
    };
    // 10.0.1.2 is no key of the map: the dnat rule breaks, masquerade binds.
    assert_eq!(run_fwd(&ns, &mut nf, &mut new), NfVerdict::Accept);
    let c = &nf.nft[0].chains[0];
    assert_eq!(
        (
            c.rules[0].counters.pcnt,
            c.rules[1].counters.pcnt,
            c.counters.pcnt
        ),
        (0, 1, 0)
    );
    assert!(nf.trail.events().any(|e| e.kind
        == NfEventKind::NftRule {
            table: 0,
            chain: 0,
            rule: 1,
            verdict: NfVerdict::Accept
        }));
    assert_eq!(
        crate::netfilter::nf_tables::nft_nat::nat_from_map_data(&NftMapData::Value(
            NftElem::Concat(vec![
                NftElem::Val(NftValue::Int(a("10.0.2.2"))),
                NftElem::Range(80, 81),
            ])
        )),
        Some((
            (Ipv4Addr::new(10, 0, 2, 2), Ipv4Addr::new(10, 0, 2, 2)),
            Some((80, 81))
        ))
    );
}
