//! The netfilter model on the lab router (r0 10.0.1.1/24, r1 10.0.2.1/24):
//! each hook, table walk and target, with the verdicts, drop reasons,
//! counters and frames of kernel-notes.md's "Netfilter on this path".

use std::sync::Arc;

use crate::SkbDropReason as R;
use crate::core::dev::{RxOutcome, Verdict, netif_receive_skb};
use crate::netfilter::Netfilter;
use crate::netfilter::core::NfEventKind;
use crate::netfilter::xtables::ip_tables::*;
use crate::netns::Netns;
use crate::testutil::{C0_MAC, HostBuilder, echo_frame};
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

pub(crate) fn entry(
    line: u32,
    text: &str,
    ip: IptIp,
    matches: Vec<XtMatch>,
    target: XtTarget,
) -> IptEntry {
    IptEntry {
        ip,
        matches,
        target,
        origin: RuleOrigin {
            file: Arc::from("iptables.txt"),
            line,
            text: Arc::from(text),
        },
        saved: XtCounters::default(),
        counters: XtCounters::default(),
        unmodelled: false,
    }
}

pub(crate) fn chain(name: &str, policy: Option<Policy>, rules: Vec<IptEntry>) -> IptChain {
    IptChain {
        name: name.into(),
        policy,
        rules,
        saved: XtCounters::default(),
        counters: XtCounters::default(),
        line: 0,
        hooked: true,
    }
}

pub(crate) fn table(name: TableName, chains: Vec<IptChain>) -> IptTable {
    IptTable {
        name,
        backend: XtBackend::Nft,
        file: Arc::from("iptables.txt"),
        chains,
    }
}

pub(crate) fn with_tables(mut ns: Netns, tables: Vec<IptTable>) -> Netns {
    let mut nf = Netfilter {
        tables,
        ..Default::default()
    };
    nf.register_hooks();
    ns.nf = Some(Box::new(nf));
    ns
}

fn iface(name: &str) -> Option<IfaceMatch> {
    Some(IfaceMatch {
        name: name.into(),
        wildcard: false,
        invert: false,
    })
}

fn filter_forward(policy: Policy, rules: Vec<IptEntry>) -> IptTable {
    table(
        TableName::Filter,
        vec![
            chain("INPUT", Some(Policy::Accept), vec![]),
            chain("FORWARD", Some(policy), rules),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
        ],
    )
}

fn forwarding_router() -> Netns {
    HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .build()
}

fn counters(ns: &Netns, chain: &str) -> (XtCounters, Vec<XtCounters>) {
    let nf = ns.nf.as_ref().unwrap();
    let t = &nf.tables[0];
    let c = &t.chains[t.chain_index(chain).unwrap()];
    (c.counters, c.rules.iter().map(|r| r.counters).collect())
}

#[test]
fn forward_policy_drop_is_netfilter_drop_after_forw_datagrams() {
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_forward(Policy::Drop, vec![])],
    );
    let mut f = echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56);
    let o = rx(&mut ns, &mut f);
    assert_eq!(
        (o.verdict, o.drop_reason, o.icmp),
        (Verdict::Drop, Some(R::NETFILTER_DROP), None)
    );
    // kernel-notes: the FORWARD drop is counted in ForwDatagrams; nothing goes out.
    assert_eq!((ns.mib.ip.ForwDatagrams, ns.mib.ip.OutTransmits), (1, 0));
    assert!(ns.tx.frames.is_empty());
    let (policy, _) = counters(&ns, "FORWARD");
    assert_eq!((policy.pcnt, policy.bcnt), (1, 84));
    let nf = ns.nf.as_ref().unwrap();
    assert!(nf.trail.events().any(|e| matches!(
        e.kind,
        NfEventKind::Policy {
            verdict: crate::netfilter::NfVerdict::Drop,
            ..
        }
    )));
}

#[test]
fn accept_rule_before_drop_policy_forwards_and_counts() {
    let accept = entry(
        5,
        "-A FORWARD -i r0 -o r1 -j ACCEPT",
        IptIp {
            iniface: iface("r0"),
            outiface: iface("r1"),
            ..Default::default()
        },
        vec![],
        XtTarget::Accept,
    );
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_forward(Policy::Drop, vec![accept])],
    );
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56),
    );
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Forward, None));
    assert_eq!(ns.tx.frames.len(), 1);
    let (policy, rules) = counters(&ns, "FORWARD");
    assert_eq!((policy.pcnt, rules[0].pcnt, rules[0].bcnt), (0, 1, 84));
}

#[test]
fn ttl_exceeded_goes_out_even_when_forward_drops() {
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_forward(Policy::Drop, vec![])],
    );
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 1, 56),
    );
    assert_eq!(
        (
            o.verdict,
            o.drop_reason,
            o.icmp.map(|i| (i.icmp_type, i.code))
        ),
        (Verdict::Drop, Some(R::IP_INHDR), Some((11, 0)))
    );
    // The FORWARD chain never saw it.
    assert_eq!(counters(&ns, "FORWARD").0.pcnt, 0);
}

#[test]
fn falling_off_a_goto_chain_takes_the_base_policy() {
    // FORWARD policy DROP: -g A ; A: (nothing matches). The packet falls
    // off A with nothing to return to: FORWARD's policy drops it and
    // FORWARD's policy counter counts it.
    let fwd = vec![entry(
        3,
        "-A FORWARD -g A",
        IptIp::default(),
        vec![],
        XtTarget::Goto(3),
    )];
    let a = vec![entry(
        4,
        "-A A -p tcp -j ACCEPT",
        IptIp {
            proto: Some((6, false)),
            ..Default::default()
        },
        vec![],
        XtTarget::Accept,
    )];
    let t = table(
        TableName::Filter,
        vec![
            chain("INPUT", Some(Policy::Accept), vec![]),
            chain("FORWARD", Some(Policy::Drop), fwd),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
            chain("A", None, a),
        ],
    );
    let mut ns = with_tables(forwarding_router(), vec![t]);
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56),
    );
    assert_eq!(o.drop_reason, Some(R::NETFILTER_DROP));
    let (fwd_policy, _) = counters(&ns, "FORWARD");
    let (a_policy, _) = counters(&ns, "A");
    assert_eq!((fwd_policy.pcnt, a_policy.pcnt), (1, 0));
}

#[test]
fn jump_return_and_goto_walk_user_chains() {
    // FORWARD: -j A ; A: -p icmp -j RETURN ; after RETURN: -g B ; B: -j DROP
    let fwd = vec![
        entry(
            3,
            "-A FORWARD -j A",
            IptIp::default(),
            vec![],
            XtTarget::Jump(3),
        ),
        entry(
            4,
            "-A FORWARD -g B",
            IptIp::default(),
            vec![],
            XtTarget::Goto(4),
        ),
        entry(
            5,
            "-A FORWARD -j ACCEPT",
            IptIp::default(),
            vec![],
            XtTarget::Accept,
        ),
    ];
    let a = vec![entry(
        6,
        "-A A -p icmp -j RETURN",
        IptIp {
            proto: Some((1, false)),
            ..Default::default()
        },
        vec![],
        XtTarget::Return,
    )];
    let b = vec![entry(
        7,
        "-A B -j DROP",
        IptIp::default(),
        vec![],
        XtTarget::Drop,
    )];
    let t = table(
        TableName::Filter,
        vec![
            chain("INPUT", Some(Policy::Accept), vec![]),
            chain("FORWARD", Some(Policy::Accept), fwd),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
            chain("A", None, a),
            chain("B", None, b),
        ],
    );
    let mut ns = with_tables(forwarding_router(), vec![t]);
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56),
    );
    assert_eq!(o.drop_reason, Some(R::NETFILTER_DROP));
    let (_, fwd) = counters(&ns, "FORWARD");
    let (_, b) = counters(&ns, "B");
    let (_, a) = counters(&ns, "A");
    // The goto went to B, whose DROP decided; the ACCEPT after it never ran.
    assert_eq!(
        (fwd[0].pcnt, a[0].pcnt, fwd[1].pcnt, b[0].pcnt, fwd[2].pcnt),
        (1, 1, 1, 1, 0)
    );
}

#[test]
fn reject_port_unreachable_in_forward_sends_icmp() {
    let rej = entry(
        9,
        "-A FORWARD -p icmp -j REJECT --reject-with icmp-port-unreachable",
        IptIp {
            proto: Some((1, false)),
            ..Default::default()
        },
        vec![],
        XtTarget::Reject(RejectWith::PortUnreachable),
    );
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_forward(Policy::Accept, vec![rej])],
    );
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56),
    );
    assert_eq!(
        (
            o.verdict,
            o.drop_reason,
            o.icmp.map(|i| (i.icmp_type, i.code))
        ),
        (Verdict::Drop, Some(R::NETFILTER_DROP), Some((3, 3)))
    );
    assert_eq!(ns.tx.frames.len(), 1);
    let f = ns.tx.frame(&ns.tx.frames[0]);
    // To the client, from r0's address, quoting the request.
    assert_eq!(&f[..6], &C0_MAC);
    assert_eq!(&f[14 + 12..14 + 20], &[10, 0, 1, 1, 10, 0, 1, 2]);
    assert_eq!(&f[34..36], &[3, 3]);
}

#[test]
fn input_drop_stops_local_delivery_before_in_delivers() {
    let t = table(
        TableName::Filter,
        vec![
            chain("INPUT", Some(Policy::Drop), vec![]),
            chain("FORWARD", Some(Policy::Accept), vec![]),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
        ],
    );
    let mut ns = with_tables(forwarding_router(), vec![t]);
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.1.1", 64, 56),
    );
    assert_eq!(
        (o.verdict, o.drop_reason),
        (Verdict::Drop, Some(R::NETFILTER_DROP))
    );
    assert_eq!((ns.mib.ip.InDelivers, ns.mib.icmp.OutMsgs), (0, 0));
    assert!(ns.tx.frames.is_empty());
}

#[test]
fn output_drop_stops_the_echo_reply_after_out_requests() {
    let t = table(
        TableName::Filter,
        vec![
            chain("INPUT", Some(Policy::Accept), vec![]),
            chain("FORWARD", Some(Policy::Accept), vec![]),
            chain("OUTPUT", Some(Policy::Drop), vec![]),
        ],
    );
    let mut ns = with_tables(forwarding_router(), vec![t]);
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.1.1", 64, 56),
    );
    assert_eq!(o.verdict, Verdict::Local);
    assert_eq!(
        (
            ns.mib.ip.InDelivers,
            ns.mib.ip.OutRequests,
            ns.mib.ip.OutTransmits
        ),
        (1, 1, 0)
    );
    assert!(ns.tx.frames.is_empty());
    assert_eq!(counters(&ns, "OUTPUT").0.pcnt, 1);
}

#[test]
fn tcp_dport_and_flags_match_only_first_fragments() {
    let m = XtMatch::Tcp {
        sport: None,
        dport: Some((PortRange { min: 80, max: 80 }, false)),
        flags: Some((
            tcpflag::SYN | tcpflag::RST | tcpflag::ACK | tcpflag::FIN,
            tcpflag::SYN,
            false,
        )),
    };
    let drop = entry(
        4,
        "-A FORWARD -p tcp --dport 80 --syn -j DROP",
        IptIp {
            proto: Some((6, false)),
            ..Default::default()
        },
        vec![m],
        XtTarget::Drop,
    );
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_forward(Policy::Accept, vec![drop])],
    );
    let syn = |dport: u16, flags_syn: bool| {
        let b = etherparse::PacketBuilder::ethernet2(C0_MAC, R0_MAC)
            .ipv4([10, 0, 1, 2], [10, 0, 2, 2], 64)
            .tcp(40000, dport, 1000, 64240);
        let b = if flags_syn { b.syn() } else { b.ack(5) };
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out
    };
    assert_eq!(
        rx(&mut ns, &mut syn(80, true)).drop_reason,
        Some(R::NETFILTER_DROP)
    );
    assert_eq!(rx(&mut ns, &mut syn(80, false)).verdict, Verdict::Forward);
    assert_eq!(rx(&mut ns, &mut syn(443, true)).verdict, Verdict::Forward);
    assert_eq!(counters(&ns, "FORWARD").1[0].pcnt, 1);
}

#[test]
fn an_unmodelled_match_is_marked_on_the_packet() {
    let r = entry(
        4,
        "-A FORWARD -m hashlimit --hashlimit-upto 1/sec -j DROP",
        IptIp::default(),
        vec![XtMatch::Unsupported {
            name: "hashlimit".into(),
        }],
        XtTarget::Drop,
    );
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_forward(Policy::Accept, vec![r])],
    );
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56),
    );
    assert_eq!(o.verdict, Verdict::Forward);
    assert!(ns.nf.as_ref().unwrap().trail.unmodelled());
}

#[test]
fn a_host_without_rules_registers_no_hooks() {
    let ns = with_tables(forwarding_router(), vec![]);
    assert!(ns.nf.as_ref().unwrap().hooks.iter().all(|h| h.is_empty()));
    use crate::netfilter::core::NfHookKind;
    let nat = |rules| {
        table(
            TableName::Nat,
            vec![chain("POSTROUTING", Some(Policy::Accept), rules)],
        )
    };
    // A nat table alone takes no conntrack (kernel suite: its policies
    // count nothing then).
    let ns = with_tables(forwarding_router(), vec![nat(vec![])]);
    let nf = ns.nf.as_ref().unwrap();
    let post: Vec<_> = nf.hooks[4].iter().map(|o| (o.priority, o.kind)).collect();
    assert_eq!(post, vec![(100, NfHookKind::Nat(0))]);
    assert!(nf.hooks[0].is_empty());
    // A NAT target does: in at PRE_ROUTING and LOCAL_OUT, confirm last.
    let masq = entry(
        2,
        "-A POSTROUTING -o r1 -j MASQUERADE",
        IptIp {
            outiface: iface("r1"),
            ..Default::default()
        },
        vec![],
        XtTarget::Masquerade(NatRange::default()),
    );
    let ns = with_tables(forwarding_router(), vec![nat(vec![masq])]);
    let nf = ns.nf.as_ref().unwrap();
    let post: Vec<_> = nf.hooks[4].iter().map(|o| (o.priority, o.kind)).collect();
    assert_eq!(
        post,
        vec![
            (100, NfHookKind::Nat(0)),
            (i32::MAX, NfHookKind::ConntrackConfirm)
        ]
    );
    let pre: Vec<_> = nf.hooks[0].iter().map(|o| o.priority).collect();
    assert_eq!(pre, vec![-200]);
}

#[test]
fn reject_tcp_reset_answers_the_syn_and_the_reset_walks_nat_postrouting() {
    let rej = entry(
        4,
        "-A FORWARD -p tcp -m tcp --dport 80 -j REJECT --reject-with tcp-reset",
        IptIp {
            proto: Some((6, false)),
            ..Default::default()
        },
        vec![XtMatch::Tcp {
            sport: None,
            dport: Some((PortRange { min: 80, max: 80 }, false)),
            flags: None,
        }],
        XtTarget::Reject(RejectWith::TcpReset),
    );
    // The MASQUERADE (for the other device) is what takes conntrack.
    let masq = entry(
        7,
        "-A POSTROUTING -o r1 -j MASQUERADE",
        IptIp {
            outiface: iface("r1"),
            ..Default::default()
        },
        vec![],
        XtTarget::Masquerade(NatRange::default()),
    );
    let nat = table(
        TableName::Nat,
        vec![
            chain("PREROUTING", Some(Policy::Accept), vec![]),
            chain("INPUT", Some(Policy::Accept), vec![]),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
            chain("POSTROUTING", Some(Policy::Accept), vec![masq]),
        ],
    );
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_forward(Policy::Accept, vec![rej]), nat],
    );
    let b = etherparse::PacketBuilder::ethernet2(C0_MAC, R0_MAC)
        .ipv4([10, 0, 1, 2], [10, 0, 2, 2], 64)
        .tcp(40000, 80, 1000, 64240)
        .syn();
    let mut f = Vec::new();
    b.write(&mut f, &[]).unwrap();
    let o = rx(&mut ns, &mut f);
    assert_eq!(
        (o.verdict, o.drop_reason),
        (Verdict::Drop, Some(R::NETFILTER_DROP))
    );
    assert_eq!(ns.tx.frames.len(), 1);
    let rst = ns.tx.frame(&ns.tx.frames[0]).to_vec();
    let ip = &rst[14..];
    // From the server's address to the client, TOS 0, id 0, DF, TTL 64.
    assert_eq!(&ip[..2], &[0x45, 0]);
    assert_eq!(&ip[4..10], &[0, 0, 0x40, 0, 64, 6]);
    assert_eq!(&ip[12..20], &[10, 0, 2, 2, 10, 0, 1, 2]);
    let tcp = &ip[20..40];
    // Ports swapped, seq 0, ack = SYN's seq + 1, RST|ACK.
    assert_eq!(&tcp[..4], &[0, 80, 0x9c, 0x40]);
    assert_eq!(&tcp[4..12], &[0, 0, 0, 0, 0, 0, 0x03, 0xe9]);
    assert_eq!(tcp[13], 0x14);
    // kernel-notes: the reset counts one packet on nat POSTROUTING.
    let nf = ns.nf.as_ref().unwrap();
    let post = &nf.tables[1].chains[3];
    assert_eq!(post.counters.pcnt, 1);
}

fn rpfilter(loose: bool, accept_local: bool, invert: bool) -> XtMatch {
    XtMatch::Rpfilter {
        loose,
        validmark: false,
        accept_local,
        invert,
    }
}

/// raw PREROUTING with counting rules `-m rpfilter [--loose] [--accept-local]`
/// and the same with `--invert`, as tools/testing/selftests/net/netfilter/
/// rpath.sh loads them; returns each rule's packet count after `src` ->
/// 10.0.1.1 arrived on r0.
fn rpfilter_counts(src: &str, loose: bool, accept_local: bool) -> (u64, u64) {
    let rules = vec![
        entry(
            1,
            "-A PREROUTING -m rpfilter",
            IptIp::default(),
            vec![rpfilter(loose, accept_local, false)],
            XtTarget::None,
        ),
        entry(
            2,
            "-A PREROUTING -m rpfilter --invert",
            IptIp::default(),
            vec![rpfilter(loose, accept_local, true)],
            XtTarget::None,
        ),
    ];
    let raw = table(
        TableName::Raw,
        vec![
            chain("PREROUTING", Some(Policy::Accept), rules),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
        ],
    );
    let mut ns = with_tables(forwarding_router(), vec![raw]);
    let mut f = echo_frame(R0_MAC, src, "10.0.1.1", 64, 8);
    let _ = rx(&mut ns, &mut f);
    let (_, r) = counters(&ns, "PREROUTING");
    (r[0].pcnt, r[1].pcnt)
}

#[test]
fn rpfilter_strict_needs_the_route_back_through_the_input_device() {
    // 10.0.1.2 is routed back through r0: the match holds.
    assert_eq!(rpfilter_counts("10.0.1.2", false, false), (1, 0));
    // 10.0.2.5 is routed back through r1: strict fails, --invert holds.
    assert_eq!(rpfilter_counts("10.0.2.5", false, false), (0, 1));
    // --loose takes any unicast route back.
    assert_eq!(rpfilter_counts("10.0.2.5", true, false), (1, 0));
    // No route back at all: fails even loose.
    assert_eq!(rpfilter_counts("198.51.100.7", true, false), (0, 1));
}

#[test]
fn rpfilter_local_source_counts_only_with_accept_local() {
    // The router's own address as the source: the route back is local.
    assert_eq!(rpfilter_counts("10.0.2.1", false, false), (0, 1));
    assert_eq!(rpfilter_counts("10.0.2.1", true, true), (1, 0));
}

#[test]
fn rpfilter_passes_zero_source_to_broadcast() {
    let rules = vec![entry(
        1,
        "-A PREROUTING -m rpfilter",
        IptIp::default(),
        vec![rpfilter(false, false, false)],
        XtTarget::None,
    )];
    let raw = table(
        TableName::Raw,
        vec![chain("PREROUTING", Some(Policy::Accept), rules)],
    );
    let mut ns = with_tables(forwarding_router(), vec![raw]);
    let mut f = echo_frame([0xff; 6], "0.0.0.0", "255.255.255.255", 64, 8);
    let _ = rx(&mut ns, &mut f);
    let (_, r) = counters(&ns, "PREROUTING");
    assert_eq!(r[0].pcnt, 1);
}

fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(C0_MAC, R0_MAC)
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut f = Vec::new();
    b.write(&mut f, b"query").unwrap();
    f
}

fn filter_with(
    input: Vec<IptEntry>,
    forward: Vec<IptEntry>,
    output: Vec<IptEntry>,
    out_policy: Policy,
) -> IptTable {
    table(
        TableName::Filter,
        vec![
            chain("INPUT", Some(Policy::Accept), input),
            chain("FORWARD", Some(Policy::Accept), forward),
            chain("OUTPUT", Some(out_policy), output),
        ],
    )
}

#[test]
fn an_icmp_error_output_drops_counts_out_discards_and_is_not_reported_sent() {
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_with(vec![], vec![], vec![], Policy::Drop)],
    );
    let o = rx(
        &mut ns,
        &mut udp_frame([10, 0, 1, 2], [10, 0, 1, 1], 4000, 5001),
    );
    assert_eq!((o.drop_reason, o.icmp), (Some(R::NO_SOCKET), None));
    // The kernel (suite kernel_netfilter): the error is counted as an ICMP
    // message, then dropped at OUTPUT: OutDiscards.
    assert_eq!(
        (
            ns.mib.ip.OutRequests,
            ns.mib.ip.OutDiscards,
            ns.mib.icmp.OutDestUnreachs
        ),
        (1, 1, 1)
    );
    assert!(ns.tx.frames.is_empty());
}

#[test]
fn output_reject_of_the_echo_reply_sends_no_error_about_it() {
    let rej = entry(
        3,
        "-A OUTPUT -j REJECT --reject-with icmp-host-prohibited",
        IptIp::default(),
        vec![],
        XtTarget::Reject(RejectWith::HostProhibited),
    );
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_with(vec![], vec![], vec![rej], Policy::Accept)],
    );
    let _ = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.1.1", 64, 56),
    );
    // icmp_xmit_lock: the ICMP socket is sending the reply itself.
    assert!(ns.tx.frames.is_empty());
    assert_eq!(
        (
            ns.mib.ip.OutRequests,
            ns.mib.ip.OutDiscards,
            ns.mib.icmp.OutDestUnreachs
        ),
        (1, 1, 0)
    );
}

#[test]
fn an_error_about_a_dnated_packet_is_translated_back_as_conntrack_attaches_it() {
    let dnat = entry(
        2,
        "-A PREROUTING -d 10.0.9.1/32 -i r0 -j DNAT --to-destination 10.0.2.2",
        IptIp {
            dst: Some(("10.0.9.1/32".parse().unwrap(), false)),
            ..Default::default()
        },
        vec![],
        XtTarget::Dnat(NatRange {
            addr: Some(("10.0.2.2".parse().unwrap(), "10.0.2.2".parse().unwrap())),
            ..Default::default()
        }),
    );
    let nat = table(
        TableName::Nat,
        vec![
            chain("PREROUTING", Some(Policy::Accept), vec![dnat]),
            chain("INPUT", Some(Policy::Accept), vec![]),
            chain("OUTPUT", Some(Policy::Accept), vec![]),
            chain("POSTROUTING", Some(Policy::Accept), vec![]),
        ],
    );
    let rej = entry(
        5,
        "-A FORWARD -p udp -o r1 -j REJECT",
        IptIp {
            proto: Some((17, false)),
            outiface: iface("r1"),
            ..Default::default()
        },
        vec![],
        XtTarget::Reject(RejectWith::PortUnreachable),
    );
    let mut ns = with_tables(
        forwarding_router(),
        vec![filter_with(vec![], vec![rej], vec![], Policy::Accept), nat],
    );
    let o = rx(
        &mut ns,
        &mut udp_frame([10, 0, 1, 2], [10, 0, 9, 1], 40348, 5353),
    );
    assert_eq!(o.icmp.map(|i| (i.icmp_type, i.code)), Some((3, 3)));
    let f = ns.tx.frame(&ns.tx.frames[0]).to_vec();
    let ip = &f[14..];
    // Kernel: 3/3 from 10.0.9.1, quoting the packet as the client sent it.
    assert_eq!(&ip[12..20], &[10, 0, 9, 1, 10, 0, 1, 2]);
    let inner = &ip[28..];
    assert_eq!(&inner[12..20], &[10, 0, 1, 2, 10, 0, 9, 1]);
    assert_eq!(crate::ipv4::ip_hdr::ip_compute_csum(&ip[..20]), 0);
    assert_eq!(crate::ipv4::ip_hdr::ip_compute_csum(&ip[20..]), 0);
}

#[test]
fn a_fragment_under_conntrack_is_marked_as_not_modelled() {
    let nat = table(
        TableName::Nat,
        vec![chain(
            "POSTROUTING",
            Some(Policy::Accept),
            vec![entry(
                2,
                "-A POSTROUTING -o r1 -j MASQUERADE",
                IptIp {
                    outiface: iface("r1"),
                    ..Default::default()
                },
                vec![],
                XtTarget::Masquerade(NatRange::default()),
            )],
        )],
    );
    let mut ns = with_tables(forwarding_router(), vec![nat]);
    let mut f = udp_frame([10, 0, 1, 2], [10, 0, 2, 2], 4000, 53);
    f[14 + 6] = 0x20; // MF
    crate::testutil::fix_csum(&mut f);
    let _ = rx(&mut ns, &mut f);
    assert!(ns.nf.as_ref().unwrap().trail.unmodelled());
}
