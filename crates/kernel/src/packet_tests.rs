//! Packet-level scenarios on the lab router of kernel-notes.md ("Packets
//! through the router"): each expected verdict, drop reason, ICMP and counter
//! change is what the real kernel did with the same frame on the same host.

use crate::SkbDropReason as R;
use crate::core::dev::{RxOutcome, Verdict, netif_receive_skb};
use crate::netns::Netns;
use crate::testutil::{C0_MAC, HostBuilder, echo_frame, fix_csum};
use crate::trace::{NoTrace, Recorder};
use crate::uapi::RouteType;

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

fn icmp(o: &RxOutcome) -> Option<(u8, u8)> {
    o.icmp.map(|i| (i.icmp_type, i.code))
}

#[test]
fn forwarding_off_drops_silently_in_ip_error() {
    let mut ns = HostBuilder::lab_router().build();
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56),
    );
    assert_eq!(
        (o.verdict, o.drop_reason, icmp(&o)),
        (Verdict::Drop, Some(R::IP_INADDRERRORS), None)
    );
    assert_eq!(o.route.unwrap().rt_type, RouteType::RTN_UNREACHABLE);
    assert_eq!((ns.mib.ip.InAddrErrors, ns.mib.ip.InReceives), (1, 1));
    assert!(ns.tx.frames.is_empty());
}

#[test]
fn forwarding_on_forwards_with_ttl_and_checksum_rewritten() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .build();
    let mut f = echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56);
    let orig = f.clone();
    let o = rx(&mut ns, &mut f);
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Forward, None));
    assert_eq!(
        (
            ns.mib.ip.ForwDatagrams,
            ns.mib.ip.OutTransmits,
            ns.mib.ip.OutRequests
        ),
        (1, 1, 0)
    );
    assert_eq!(ns.tx.frames.len(), 1);
    let out = ns.tx.frame(&ns.tx.frames[0]).to_vec();
    assert_eq!(&out[0..6], &crate::testutil::S0_MAC);
    assert_eq!(&out[6..12], &[2, 0, 0, 0, 0, 3]);
    assert_eq!(out[14 + 8], 63);
    assert_eq!(crate::ipv4::ip_hdr::ip_compute_csum(&out[14..34]), 0);
    assert_eq!(&out[34..], &orig[34..], "payload untouched");
}

#[test]
fn unreachable_answers_by_route_type() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .route(
            RouteType::RTN_BLACKHOLE,
            "192.0.2.0/26",
            None,
            None,
            254,
            0,
            0,
        )
        .route(
            RouteType::RTN_UNREACHABLE,
            "192.0.2.64/26",
            None,
            None,
            254,
            0,
            0,
        )
        .route(
            RouteType::RTN_PROHIBIT,
            "192.0.2.128/26",
            None,
            None,
            254,
            0,
            0,
        )
        .build();
    let cases = [
        ("198.51.100.1", R::IP_INNOROUTES, Some((3, 0))),
        ("192.0.2.65", R::NOT_SPECIFIED, Some((3, 1))),
        ("192.0.2.129", R::NOT_SPECIFIED, Some((3, 13))),
        ("192.0.2.1", R::NOT_SPECIFIED, None),
    ];
    for (i, (dst, reason, ic)) in cases.into_iter().enumerate() {
        ns.jiffies += 10 * crate::HZ * (i as u64 + 1);
        let o = rx(&mut ns, &mut echo_frame(R0_MAC, "10.0.1.2", dst, 64, 56));
        assert_eq!((o.drop_reason, icmp(&o)), (Some(reason), ic), "{dst}");
        if ic.is_some() {
            let f = ns.tx.frame(&ns.tx.frames[0]);
            assert_eq!(
                &f[0..6],
                &C0_MAC,
                "{dst}: the error goes back to the client"
            );
            assert_eq!(
                &f[14 + 12..14 + 16],
                &[10, 0, 1, 1],
                "{dst}: from the ingress address"
            );
        }
    }
    assert_eq!(ns.mib.ip_ext.InNoRoutes, 1);
    assert_eq!(ns.mib.icmp.OutDestUnreachs, 3);
}

#[test]
fn ip_rcv_core_checks_in_order() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .build();
    let base = echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 56);
    let mut f = base.clone();
    f[24] ^= 0xff;
    let o = rx(&mut ns, &mut f);
    assert_eq!(o.drop_reason, Some(R::IP_CSUM));
    assert_eq!(
        (
            ns.mib.ip.InHdrErrors,
            ns.mib.ip_ext.InCsumErrors,
            ns.mib.ip.InReceives
        ),
        (1, 1, 1)
    );
    let mut f = base.clone();
    f[14] = 0x65;
    fix_csum(&mut f);
    assert_eq!(rx(&mut ns, &mut f).drop_reason, Some(R::IP_INHDR));
    let mut f = base.clone();
    f[16..18].copy_from_slice(&200u16.to_be_bytes());
    fix_csum(&mut f);
    assert_eq!(rx(&mut ns, &mut f).drop_reason, Some(R::PKT_TOO_SMALL));
    assert_eq!(ns.mib.ip_ext.InTruncatedPkts, 1);
    let mut f = base.clone();
    f[16..18].copy_from_slice(&16u16.to_be_bytes());
    fix_csum(&mut f);
    assert_eq!(rx(&mut ns, &mut f).drop_reason, Some(R::IP_INHDR));
    let before = ns.mib.ip.InReceives;
    let mut f = base.clone();
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0x99, 0x99]);
    assert_eq!(rx(&mut ns, &mut f).drop_reason, Some(R::OTHERHOST));
    assert_eq!(
        ns.mib.ip.InReceives, before,
        "OTHERHOST is not counted as received"
    );
}

#[test]
fn ttl_expiry_and_local_delivery_without_ttl_check() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .build();
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 1, 56),
    );
    assert_eq!(
        (o.drop_reason, icmp(&o)),
        (Some(R::IP_INHDR), Some((11, 0)))
    );
    assert_eq!(ns.mib.ip.InHdrErrors, 1);
    let f = ns.tx.frame(&ns.tx.frames[0]);
    assert_eq!(f[14 + 28 + 8], 1, "the quoted header keeps ttl 1");
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.1.1", 0, 56),
    );
    assert_eq!(o.verdict, Verdict::Local);
    assert_eq!(ns.tx.frames.len(), 1, "an echo reply");
    assert_eq!(ns.tx.frame(&ns.tx.frames[0])[34], 0, "ICMP echo reply");
}

#[test]
fn df_over_mtu_and_fragmentation() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .build();
    let r1 = ns.dev_by_name("r1").unwrap().ifindex;
    ns.dev_mut(r1).unwrap().mtu = 1000;
    let mut f = echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 1172);
    f[20] |= 0x40;
    fix_csum(&mut f);
    let o = rx(&mut ns, &mut f);
    assert_eq!(
        (o.drop_reason, icmp(&o)),
        (Some(R::PKT_TOO_BIG), Some((3, 4)))
    );
    assert_eq!(
        &ns.tx.frame(&ns.tx.frames[0])[14 + 24..14 + 28],
        &1000u32.to_be_bytes()
    );
    assert_eq!((ns.mib.ip.ForwDatagrams, ns.mib.ip.FragFails), (1, 1));
    let mut f = echo_frame(R0_MAC, "10.0.1.2", "10.0.2.2", 64, 1172);
    f[20] &= !0x40;
    fix_csum(&mut f);
    let o = rx(&mut ns, &mut f);
    assert_eq!(o.verdict, Verdict::Forward);
    assert_eq!(ns.tx.frames.len(), 2);
    assert_eq!((ns.mib.ip.FragOKs, ns.mib.ip.FragCreates), (1, 2));
}

#[test]
fn martians_rp_filter_and_unknown_protocols() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .sysctl("net.ipv4.conf.r0.rp_filter", 1)
        .build();
    assert_eq!(
        rx(
            &mut ns,
            &mut echo_frame(R0_MAC, "127.0.0.1", "10.0.2.2", 64, 8)
        )
        .drop_reason,
        Some(R::IP_LOCALNET)
    );
    assert_eq!(
        rx(
            &mut ns,
            &mut echo_frame(R0_MAC, "10.0.2.5", "10.0.2.2", 64, 8)
        )
        .drop_reason,
        Some(R::IP_RPFILTER)
    );
    assert_eq!(ns.mib.tcp_ext.IPReversePathFilter, 1);
    assert_eq!(ns.rt_cache_stat.in_martian_src, 2);
    let mut f = echo_frame(R0_MAC, "10.0.1.2", "10.0.1.1", 64, 8);
    f[23] = 253;
    fix_csum(&mut f);
    let o = rx(&mut ns, &mut f);
    assert_eq!(
        (o.drop_reason, icmp(&o)),
        (Some(R::IP_NOPROTO), Some((3, 2)))
    );
    assert_eq!(ns.mib.ip.InUnknownProtos, 1);
}

#[test]
fn redirect_is_sent_once_for_a_burst_and_packets_are_forwarded() {
    let mut ns = HostBuilder::lab_router()
        .neigh("r0", "10.0.1.3", [2, 0, 0, 0, 1, 3])
        .sysctl("net.ipv4.ip_forward", 1)
        .route(
            RouteType::RTN_UNICAST,
            "10.0.3.0/24",
            Some("10.0.1.3"),
            Some("r0"),
            254,
            0,
            0,
        )
        .build();
    ns.jiffies = 100_000;
    let mut redirects = 0;
    for _ in 0..5 {
        let o = rx(
            &mut ns,
            &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.3.5", 64, 8),
        );
        assert_eq!(o.verdict, Verdict::Forward);
        redirects += o.icmp.is_some() as u32;
    }
    assert_eq!(
        (redirects, ns.mib.ip.ForwDatagrams, ns.mib.icmp.OutRedirects),
        (1, 5, 1)
    );
}

#[test]
fn error_rate_limit_of_a_burst() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .route(
            RouteType::RTN_UNREACHABLE,
            "192.0.2.64/26",
            None,
            None,
            254,
            0,
            0,
        )
        .build();
    ns.jiffies = 100_000;
    let n: u32 = (0..10)
        .map(|_| {
            rx(
                &mut ns,
                &mut echo_frame(R0_MAC, "10.0.1.2", "192.0.2.65", 64, 8),
            )
            .icmp
            .is_some() as u32
        })
        .sum();
    assert_eq!((n, ns.mib.icmp.OutRateLimitHost), (2, 1));
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .sysctl("net.ipv4.icmp_ratelimit", 0)
        .route(
            RouteType::RTN_UNREACHABLE,
            "192.0.2.64/26",
            None,
            None,
            254,
            0,
            0,
        )
        .build();
    ns.jiffies = 100_000;
    let n: u32 = (0..10)
        .map(|_| {
            rx(
                &mut ns,
                &mut echo_frame(R0_MAC, "10.0.1.2", "192.0.2.65", 64, 8),
            )
            .icmp
            .is_some() as u32
        })
        .sum();
    assert_eq!(n, 5);
}

#[test]
fn broadcasts_count_and_l2_broadcast_is_not_forwarded() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .build();
    let o = rx(
        &mut ns,
        &mut echo_frame([0xff; 6], "10.0.1.2", "10.0.2.2", 64, 8),
    );
    assert_eq!(
        (o.verdict, o.drop_reason),
        (Verdict::Drop, Some(R::NOT_SPECIFIED))
    );
    let o = rx(
        &mut ns,
        &mut echo_frame([0xff; 6], "10.0.1.2", "10.0.1.255", 64, 8),
    );
    assert_eq!(
        o.drop_reason,
        Some(R::INVALID_PROTO),
        "echo to a broadcast is ignored"
    );
    assert_eq!(
        (
            ns.mib.ip_ext.InBcastPkts,
            ns.rt_cache_stat.in_brd,
            ns.mib.ip.InDelivers
        ),
        (1, 1, 1)
    );
}

fn unresolved_router() -> Netns {
    HostBuilder::lab_router()
        .sysctl("net.ipv4.ip_forward", 1)
        .route(
            RouteType::RTN_UNICAST,
            "10.0.12.0/24",
            Some("10.0.2.12"),
            Some("r1"),
            254,
            0,
            0,
        )
        .build()
}

fn arp_kinds(ns: &Netns) -> usize {
    ns.tx
        .frames
        .iter()
        .filter(|f| f.kind == crate::core::tx::TxKind::Arp)
        .count()
}

#[test]
fn unresolved_next_hop_queues_solicits_three_times_then_fails() {
    use crate::core::neighbour::run_timers;
    let mut ns = unresolved_router();
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.12.1", 64, 8),
    );
    let seq = ns.rx_seq;
    assert_eq!(
        (o.verdict, o.drop_reason, icmp(&o)),
        (Verdict::Queued, None, None)
    );
    assert_eq!((ns.mib.ip.ForwDatagrams, ns.mib.ip.OutTransmits), (1, 1));
    let f = ns.tx.frame(&ns.tx.frames[0]).to_vec();
    assert_eq!(ns.tx.frames.len(), 1);
    // A broadcast who-has 10.0.2.12 tell 10.0.2.1 from r1.
    assert_eq!(&f[..6], &[0xff; 6]);
    assert_eq!(&f[12..14], &[0x08, 0x06]);
    assert_eq!(&f[28..32], &[10, 0, 2, 1]);
    assert_eq!(&f[38..42], &[10, 0, 2, 12]);
    // A second packet while resolving waits too, without a new request.
    ns.jiffies += 10;
    let o2 = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.12.1", 64, 8),
    );
    assert_eq!(o2.verdict, Verdict::Queued);
    assert_eq!(arp_kinds(&ns), 0);
    // One more request a second later, and one more the second after.
    for at in [crate::HZ, 2 * crate::HZ] {
        ns.tx.clear();
        run_timers(&mut ns, at - 1, None, &mut NoTrace);
        assert_eq!(arp_kinds(&ns), 0, "nothing before {at}");
        run_timers(&mut ns, at, None, &mut NoTrace);
        assert_eq!(arp_kinds(&ns), 1, "a request at {at}");
        assert!(ns.settled.is_empty());
    }
    // Three seconds after the first: NUD_FAILED, each queued packet gets
    // ICMP host unreachable and is freed with NEIGH_FAILED.
    ns.tx.clear();
    run_timers(&mut ns, 3 * crate::HZ, None, &mut NoTrace);
    assert_eq!(arp_kinds(&ns), 0);
    let fates: Vec<_> = ns
        .settled
        .iter()
        .map(|s| {
            (
                s.seq,
                s.verdict,
                s.drop_reason,
                s.icmp.map(|i| (i.icmp_type, i.code)),
                s.at,
            )
        })
        .collect();
    assert_eq!(
        fates,
        vec![
            (
                seq,
                Verdict::Drop,
                Some(R::NEIGH_FAILED),
                Some((3, 1)),
                3 * crate::HZ
            ),
            (
                seq + 1,
                Verdict::Drop,
                Some(R::NEIGH_FAILED),
                Some((3, 1)),
                3 * crate::HZ
            ),
        ]
    );
    assert_eq!(ns.tx.frames.len(), 2, "two ICMP errors to the client");
    assert!(ns.tx.frames.iter().all(|f| f.at == 3 * crate::HZ));
    assert!(ns.arp_queue.is_empty());
    assert_eq!(ns.mib.icmp.OutDestUnreachs, 2);
    // A packet after the failure starts resolution again at once.
    ns.settled.clear();
    ns.jiffies = 4 * crate::HZ;
    let _ = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.12.1", 64, 8),
    );
    assert_eq!(arp_kinds(&ns), 1);
}

#[test]
fn an_arp_answer_sends_what_was_queued() {
    let mut ns = unresolved_router();
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.12.1", 64, 8),
    );
    assert_eq!(o.verdict, Verdict::Queued);
    let seq = ns.rx_seq;
    // 10.0.2.12 (02:00:00:00:02:0c) answers r1 (02:00:00:00:00:03).
    let r1_mac = [2, 0, 0, 0, 0, 3];
    let gw_mac = [2, 0, 0, 0, 2, 0x0c];
    let mut reply = Vec::new();
    reply.extend_from_slice(&r1_mac);
    reply.extend_from_slice(&gw_mac);
    reply.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    reply.extend_from_slice(&gw_mac);
    reply.extend_from_slice(&[10, 0, 2, 12]);
    reply.extend_from_slice(&r1_mac);
    reply.extend_from_slice(&[10, 0, 2, 1]);
    let r1 = ns.dev_by_name("r1").unwrap().ifindex;
    ns.jiffies += 5;
    let a = netif_receive_skb(&mut ns, &mut reply, r1, &mut NoTrace);
    assert_eq!(a.verdict, Verdict::Local);
    assert_eq!(ns.tx.frames.len(), 1);
    let f = ns.tx.frame(&ns.tx.frames[0]);
    assert_eq!((&f[..6], &f[6..12]), (&gw_mac[..], &r1_mac[..]));
    assert_eq!(f[22], 63, "sent as forwarded: TTL already decreased");
    assert_eq!(ns.settled.len(), 1);
    assert_eq!(
        (
            ns.settled[0].seq,
            ns.settled[0].verdict,
            ns.settled[0].drop_reason
        ),
        (seq, Verdict::Forward, None)
    );
    let n = ns
        .neigh
        .iter()
        .find(|n| n.ip == "10.0.2.12".parse::<std::net::Ipv4Addr>().unwrap())
        .unwrap();
    assert_eq!(
        (n.state, n.lladdr, n.timer),
        (
            crate::core::neighbour::NudState::NUD_REACHABLE,
            Some(gw_mac),
            None
        )
    );
    // The next packet goes straight out.
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.12.1", 64, 8),
    );
    assert_eq!(o.verdict, Verdict::Forward);
}

#[test]
fn a_full_arp_queue_drops_its_oldest_packets() {
    use crate::core::neighbour::UNRES_QLEN_BYTES;
    use crate::core::skbuff::skb_truesize;
    let mut ns = unresolved_router();
    // 1000-byte pings: 1042-byte frames, truesize 2304 each.
    let size = skb_truesize(14 + 20 + 8 + 1000);
    assert_eq!(size, 2304);
    let fit = (UNRES_QLEN_BYTES / size) as u64;
    for _ in 0..fit + 2 {
        let o = rx(
            &mut ns,
            &mut echo_frame(R0_MAC, "10.0.1.2", "10.0.12.1", 64, 1000),
        );
        assert_eq!(o.verdict, Verdict::Queued);
    }
    let first = ns.rx_seq - (fit + 2) + 1;
    let fates: Vec<_> = ns.settled.iter().map(|s| (s.seq, s.drop_reason)).collect();
    assert_eq!(
        fates,
        vec![
            (first, Some(R::NEIGH_QUEUEFULL)),
            (first + 1, Some(R::NEIGH_QUEUEFULL))
        ]
    );
    assert_eq!(ns.arp_queue.len() as u64, fit);
    assert_eq!(skb_truesize(98), 768, "a 56-byte ping");
}

#[test]
fn fragments_to_the_host_are_reassembled_then_delivered() {
    let mut ns = HostBuilder::lab_router().build();
    // A 100-byte UDP datagram (to a closed port) in two fragments.
    let b = etherparse::PacketBuilder::ethernet2(C0_MAC, R0_MAC)
        .ipv4([10, 0, 1, 2], [10, 0, 1, 1], 64)
        .udp(5000, 9999);
    let mut whole = Vec::new();
    b.write(&mut whole, &[7u8; 92]).unwrap();
    let frag = |from: usize, to: usize, off: u16, mf: bool| {
        let mut f = whole[..34].to_vec();
        f.extend_from_slice(&whole[34 + from..34 + to]);
        f[16..18].copy_from_slice(&((20 + to - from) as u16).to_be_bytes());
        f[20..22].copy_from_slice(&(((mf as u16) << 13) | off).to_be_bytes());
        fix_csum(&mut f);
        f
    };
    let o = rx(&mut ns, &mut frag(0, 64, 0, true));
    assert_eq!((o.verdict, o.icmp), (Verdict::Local, None));
    let o = rx(&mut ns, &mut frag(0, 64, 0, true));
    assert_eq!(o.drop_reason, Some(R::DUP_FRAG));
    let o = rx(&mut ns, &mut frag(64, 100, 8, false));
    assert_eq!(
        (o.drop_reason, icmp(&o)),
        (Some(R::NO_SOCKET), Some((3, 3))),
        "the whole datagram reached UDP"
    );
    assert_eq!(
        (
            ns.mib.ip.ReasmReqds,
            ns.mib.ip.ReasmOKs,
            ns.mib.ip.ReasmFails
        ),
        (3, 1, 0)
    );
    assert_eq!(ns.mib.udp.NoPorts, 1);
    // An overlapping fragment kills the queue.
    let _ = rx(&mut ns, &mut frag(0, 64, 0, true));
    let o = rx(&mut ns, &mut frag(56, 100, 7, false));
    assert_eq!(o.verdict, Verdict::Drop);
    assert_eq!(ns.mib.ip.ReasmFails, 1);
}

#[test]
fn an_expired_reassembly_queue_sends_time_exceeded_about_its_first_fragment() {
    let mut ns = HostBuilder::lab_router().build();
    ns.jiffies = 1_000_000;
    let b = etherparse::PacketBuilder::ethernet2(C0_MAC, R0_MAC)
        .ipv4([10, 0, 1, 2], [10, 0, 1, 1], 64)
        .udp(5000, 9999);
    let mut whole = Vec::new();
    b.write(&mut whole, &[7u8; 92]).unwrap();
    let mut first = whole[..34 + 64].to_vec();
    first[16..18].copy_from_slice(&84u16.to_be_bytes());
    first[20..22].copy_from_slice(&0x2000u16.to_be_bytes());
    fix_csum(&mut first);
    assert_eq!(rx(&mut ns, &mut first).verdict, Verdict::Local);
    // ipfrag_time (30 s) later another fragment arrives: the old queue expires.
    ns.jiffies += 31 * crate::HZ;
    let mut other = first.clone();
    other[18..20].copy_from_slice(&[0x77, 0x77]);
    fix_csum(&mut other);
    let _ = rx(&mut ns, &mut other);
    assert_eq!((ns.mib.ip.ReasmTimeout, ns.mib.ip.ReasmFails), (1, 1));
    let icmp = ns
        .tx
        .frames
        .iter()
        .map(|f| ns.tx.frame(f))
        .find(|f| f.len() > 34 && f[23] == 1)
        .expect("an ICMP error");
    assert_eq!(
        (icmp[34], icmp[35]),
        (11, 1),
        "time exceeded, fragment reassembly time exceeded"
    );
}

/// An 8-byte-payload fragment of datagram `id` from 10.0.1.2 to the host at
/// byte `off` (MF set unless `last`).
fn small_fragment(id: u16, off: u16, last: bool) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(C0_MAC, R0_MAC)
        .ipv4([10, 0, 1, 2], [10, 0, 1, 1], 64)
        .udp(5000, 9999);
    let mut f = Vec::new();
    b.write(&mut f, &[]).unwrap();
    f[18..20].copy_from_slice(&id.to_be_bytes());
    f[20..22].copy_from_slice(&((u16::from(!last) << 13) | (off / 8)).to_be_bytes());
    fix_csum(&mut f);
    f
}

#[test]
fn a_queue_passed_by_more_than_ipfrag_max_dist_fragments_starts_over() {
    let mut ns = HostBuilder::lab_router().build();
    // Datagram 1's first fragment, then 65 fragments of datagram 2 from the
    // same source (ipfrag_max_dist is 64), then datagram 1's last.
    assert_eq!(
        rx(&mut ns, &mut small_fragment(1, 0, false)).verdict,
        Verdict::Local
    );
    for k in 0..65u16 {
        let o = rx(&mut ns, &mut small_fragment(2, 8 * (k + 1), false));
        assert_eq!(o.verdict, Verdict::Local);
    }
    assert_eq!(ns.mib.ip.ReasmFails, 0);
    let mut rec = Recorder::new();
    let r0 = ns.dev_by_name("r0").unwrap().ifindex;
    let o = netif_receive_skb(&mut ns, &mut small_fragment(1, 8, true), r0, &mut rec);
    // ip_frag_too_far: the queue lost its first fragment and holds only
    // this one, so nothing is delivered.
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Local, None));
    assert_eq!((ns.mib.ip.ReasmFails, ns.mib.ip.ReasmOKs), (1, 0));
    assert!(rec.steps.iter().any(|s| matches!(
        s.check,
        crate::trace::Check::FragTooFar {
            dropped: 1,
            max_dist: 64
        }
    )));
    // Within the distance, the same pattern reassembles.
    let mut ns = HostBuilder::lab_router().build();
    let _ = rx(&mut ns, &mut small_fragment(1, 0, false));
    for k in 0..63u16 {
        let _ = rx(&mut ns, &mut small_fragment(2, 8 * (k + 1), false));
    }
    let o = rx(&mut ns, &mut small_fragment(1, 8, true));
    assert_eq!(
        o.drop_reason,
        Some(R::NO_SOCKET),
        "reassembled, to a closed port"
    );
    assert_eq!((ns.mib.ip.ReasmFails, ns.mib.ip.ReasmOKs), (0, 1));
    // ipfrag_max_dist = 0 turns the check off.
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ipfrag_max_dist", 0)
        .build();
    let _ = rx(&mut ns, &mut small_fragment(1, 0, false));
    for k in 0..100u16 {
        let _ = rx(&mut ns, &mut small_fragment(2, 8 * (k + 1), false));
    }
    let o = rx(&mut ns, &mut small_fragment(1, 8, true));
    assert_eq!(o.drop_reason, Some(R::NO_SOCKET));
}

#[test]
fn over_ipfrag_high_thresh_fragments_are_freed_without_a_queue() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.ipfrag_high_thresh", 3000)
        .build();
    // Each small fragment's skb has a truesize of 768: the fourth finds
    // the memory over 3000 bytes... after the fourth is queued (3072).
    for id in 1..=4u16 {
        let o = rx(&mut ns, &mut small_fragment(id, 0, false));
        assert_eq!(
            (o.verdict, o.drop_reason),
            (Verdict::Local, None),
            "fragment {id}"
        );
    }
    let o = rx(&mut ns, &mut small_fragment(5, 0, false));
    assert_eq!(
        (o.verdict, o.drop_reason),
        (Verdict::Drop, Some(R::NOT_SPECIFIED))
    );
    // Not even a queue that exists is found.
    let o = rx(&mut ns, &mut small_fragment(1, 8, true));
    assert_eq!(o.drop_reason, Some(R::NOT_SPECIFIED));
    assert_eq!((ns.mib.ip.ReasmReqds, ns.mib.ip.ReasmFails), (6, 2));
}

/// A broadcast ARP request on r0 from `sip` (the client's MAC) for `tip`.
fn arp_request_frame(sip: [u8; 4], tip: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&C0_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&C0_MAC);
    f.extend_from_slice(&sip);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tip);
    f
}

#[test]
fn an_arp_request_for_the_host_is_answered_and_teaches_the_asker() {
    // The router knows no 10.0.1.7 yet.
    let mut ns = HostBuilder::router().build();
    let o = rx(
        &mut ns,
        &mut arp_request_frame([10, 0, 1, 7], [10, 0, 1, 1]),
    );
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Local, None));
    assert_eq!(ns.tx.frames.len(), 1);
    let f = ns.tx.frame(&ns.tx.frames[0]);
    // 10.0.1.1 is-at r0's MAC, to the asker.
    assert_eq!(&f[..6], &C0_MAC);
    assert_eq!(&f[6..12], &R0_MAC);
    assert_eq!(&f[12..22], &[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    assert_eq!(
        (&f[22..28], &f[28..32]),
        (&R0_MAC[..], &[10u8, 0, 1, 1][..])
    );
    assert_eq!(
        (&f[32..38], &f[38..42]),
        (&C0_MAC[..], &[10u8, 0, 1, 7][..])
    );
    // neigh_event_ns: the asker is now a STALE entry with its MAC, so an
    // echo reply to it goes out without ARP.
    let n = ns
        .neigh
        .iter()
        .find(|n| n.ip == "10.0.1.7".parse::<std::net::Ipv4Addr>().unwrap())
        .unwrap();
    assert_eq!(
        (n.state, n.lladdr),
        (crate::core::neighbour::NudState::NUD_STALE, Some(C0_MAC))
    );
    let o = rx(
        &mut ns,
        &mut echo_frame(R0_MAC, "10.0.1.7", "10.0.1.1", 64, 8),
    );
    assert_eq!(o.verdict, Verdict::Local);
    assert_eq!(ns.tx.frames.len(), 1);
    assert_eq!(&ns.tx.frame(&ns.tx.frames[0])[12..14], &[0x08, 0x00]);
    // A request for another host's address is not answered (no proxy ARP).
    let o = rx(
        &mut ns,
        &mut arp_request_frame([10, 0, 1, 7], [10, 0, 1, 9]),
    );
    assert_eq!(o.verdict, Verdict::Local);
    assert!(ns.tx.frames.is_empty());
}

#[test]
fn an_arp_request_failing_rp_filter_is_not_answered_and_says_why() {
    let mut ns = HostBuilder::lab_router()
        .sysctl("net.ipv4.conf.all.rp_filter", 1)
        .build();
    // Who has 10.0.1.1? tell 10.0.2.7 — on r0, though 10.0.2.7 routes back via r1.
    let mut f = vec![0xffu8; 6];
    f.extend_from_slice(&C0_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&C0_MAC);
    f.extend_from_slice(&[10, 0, 2, 7]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&[10, 0, 1, 1]);
    let mut rec = Recorder::new();
    let r0 = ns.dev_by_name("r0").unwrap().ifindex;
    let o = netif_receive_skb(&mut ns, &mut f, r0, &mut rec);
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Local, None));
    assert!(ns.tx.frames.is_empty(), "no ARP reply");
    assert_eq!(
        ns.arp_ignored.map(|a| (a.sip, a.tip, a.reason)),
        Some((
            "10.0.2.7".parse().unwrap(),
            "10.0.1.1".parse().unwrap(),
            R::IP_RPFILTER
        ))
    );
    assert!(rec.steps.iter().any(|s| matches!(
        s.check,
        crate::trace::Check::ArpRouteFailed {
            reason: R::IP_RPFILTER,
            ..
        }
    )));
}
