//! Scenario tests of the input route decision on the lab router of
//! kernel-notes.md ("Verified on 6.18 here"): each expected answer is one the
//! real kernel gave to the same `ip route get ... iif` on the same host.

use crate::SkbDropReason as R;
use crate::core::fib_rules::FibRuleAction;
use crate::ipv4::rtnetlink::{RouteGetError, RouteGetReply};
use crate::netns::Netns;
use crate::testutil::{HostBuilder, get, name};
use crate::uapi::{Errno, RouteType, RtcFlags};

const UNICAST: RouteType = RouteType::RTN_UNICAST;

fn ok(ns: &mut Netns, dst: &str, src: &str, iif: &str) -> RouteGetReply {
    match get(ns, dst, src, iif, 0, 0) {
        Ok(r) => r,
        Err(e) => panic!("{dst} from {src} iif {iif}: expected a route, got {e:?}"),
    }
}

fn err(ns: &mut Netns, dst: &str, src: &str, iif: &str) -> RouteGetError {
    match get(ns, dst, src, iif, 0, 0) {
        Ok(r) => panic!("{dst} from {src} iif {iif}: expected an error, got {r:?}"),
        Err(e) => e,
    }
}

fn expect_fwd(ns: &mut Netns, dst: &str, src: &str, iif: &str, dev: &str, gw: Option<&str>) {
    let r = ok(ns, dst, src, iif);
    assert_eq!(r.rt_type, UNICAST, "{dst}");
    assert_eq!(name(ns, r.dev), dev, "{dst} from {src}");
    assert_eq!(
        r.gateway.map(|g| g.to_string()),
        gw.map(String::from),
        "{dst}"
    );
}

fn expect_err(ns: &mut Netns, dst: &str, src: &str, iif: &str, errno: Errno, reason: R) {
    let e = err(ns, dst, src, iif);
    assert_eq!(
        (e.errno, e.drop_reason),
        (errno, Some(reason)),
        "{dst} from {src} iif {iif}"
    );
}

/// The lab router with the reject routes and extras of kernel-notes.md.
fn lab() -> HostBuilder {
    HostBuilder::router()
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
        .route(
            RouteType::RTN_THROW,
            "192.0.2.192/26",
            None,
            None,
            254,
            0,
            0,
        )
        .route(
            UNICAST,
            "10.0.3.0/24",
            Some("10.0.1.3"),
            Some("r0"),
            254,
            0,
            0,
        )
        .route(
            RouteType::RTN_MULTICAST,
            "10.0.13.0/24",
            None,
            Some("r1"),
            254,
            0,
            0,
        )
        .route(
            RouteType::RTN_ANYCAST,
            "10.0.14.0/24",
            None,
            Some("r1"),
            254,
            0,
            0,
        )
}

#[test]
fn forwarding_off_turns_every_non_local_answer_into_ehostunreach() {
    let mut ns = lab().build();
    for dst in [
        "10.0.2.2",
        "198.51.100.1",
        "192.0.2.1",
        "192.0.2.129",
        "10.0.13.1",
    ] {
        expect_err(
            &mut ns,
            dst,
            "10.0.1.2",
            "r0",
            Errno::EHOSTUNREACH,
            R::IP_INADDRERRORS,
        );
    }
    // An own address as source is only checked in make_route: still no_route.
    expect_err(
        &mut ns,
        "10.0.2.2",
        "10.0.2.1",
        "r0",
        Errno::EHOSTUNREACH,
        R::IP_INADDRERRORS,
    );
    // A martian source is checked before the lookup.
    expect_err(
        &mut ns,
        "10.0.2.2",
        "127.0.0.1",
        "r0",
        Errno::EINVAL,
        R::IP_LOCALNET,
    );
}

#[test]
fn local_and_broadcast_are_delivered_with_forwarding_off() {
    let mut ns = lab().build();
    let r = ok(&mut ns, "10.0.1.1", "10.0.1.2", "r0");
    assert_eq!((r.rt_type, name(&ns, r.dev)), (RouteType::RTN_LOCAL, "lo"));
    assert_eq!(r.rtm_flags & RtcFlags::RTCF_LOCAL.0, RtcFlags::RTCF_LOCAL.0);
    let r = ok(&mut ns, "10.0.2.1", "10.0.1.2", "r0");
    assert_eq!(r.rt_type, RouteType::RTN_LOCAL);
    for dst in ["10.0.1.255", "255.255.255.255"] {
        let r = ok(&mut ns, dst, "10.0.1.2", "r0");
        assert_eq!(
            (r.rt_type, name(&ns, r.dev)),
            (RouteType::RTN_BROADCAST, "lo"),
            "{dst}"
        );
        let want = RtcFlags::RTCF_LOCAL.0 | RtcFlags::RTCF_BROADCAST.0;
        assert_eq!(r.rtm_flags & want, want);
    }
}

#[test]
fn in_dev_forward_reads_the_input_device_only() {
    let mut ns = lab().sysctl("net.ipv4.conf.r0.forwarding", 1).build();
    expect_fwd(&mut ns, "10.0.2.2", "10.0.1.2", "r0", "r1", None);
    expect_err(
        &mut ns,
        "10.0.1.2",
        "10.0.2.2",
        "r1",
        Errno::EHOSTUNREACH,
        R::IP_INADDRERRORS,
    );
}

#[test]
fn reject_routes_and_no_route_with_forwarding_on() {
    let mut ns = lab().sysctl("net.ipv4.ip_forward", 1).build();
    expect_err(
        &mut ns,
        "198.51.100.1",
        "10.0.1.2",
        "r0",
        Errno::ENETUNREACH,
        R::IP_INNOROUTES,
    );
    expect_err(
        &mut ns,
        "192.0.2.1",
        "10.0.1.2",
        "r0",
        Errno::EINVAL,
        R::NOT_SPECIFIED,
    );
    expect_err(
        &mut ns,
        "192.0.2.65",
        "10.0.1.2",
        "r0",
        Errno::EHOSTUNREACH,
        R::NOT_SPECIFIED,
    );
    expect_err(
        &mut ns,
        "192.0.2.129",
        "10.0.1.2",
        "r0",
        Errno::EACCES,
        R::NOT_SPECIFIED,
    );
    expect_err(
        &mut ns,
        "192.0.2.193",
        "10.0.1.2",
        "r0",
        Errno::ENETUNREACH,
        R::IP_INNOROUTES,
    );
    expect_err(
        &mut ns,
        "0.1.2.3",
        "10.0.1.2",
        "r0",
        Errno::ENETUNREACH,
        R::IP_INNOROUTES,
    );
}

#[test]
fn martians_with_forwarding_on() {
    let mut ns = lab().sysctl("net.ipv4.ip_forward", 1).build();
    let cases = [
        ("10.0.2.2", "127.0.0.1", R::IP_LOCALNET),
        ("10.0.2.2", "224.0.0.5", R::IP_INVALID_SOURCE),
        ("10.0.2.2", "255.255.255.255", R::IP_INVALID_SOURCE),
        ("10.0.2.2", "0.0.0.0", R::IP_INVALID_SOURCE),
        ("10.0.2.2", "10.0.2.1", R::IP_LOCAL_SOURCE),
        ("127.0.0.1", "10.0.1.2", R::IP_LOCALNET),
        ("0.0.0.0", "10.0.1.2", R::IP_INVALID_DEST),
        ("10.0.1.1", "10.0.1.1", R::IP_LOCAL_SOURCE),
        ("239.1.2.3", "10.0.1.2", R::NOT_SPECIFIED),
        ("10.0.1.255", "0.0.0.0", R::IP_INVALID_SOURCE),
        ("10.0.13.1", "10.0.1.2", R::IP_INVALID_DEST),
        ("10.0.14.1", "10.0.1.2", R::IP_INVALID_DEST),
    ];
    for (dst, src, reason) in cases {
        expect_err(&mut ns, dst, src, "r0", Errno::EINVAL, reason);
    }
    assert!(ns.rt_cache_stat.in_martian_src >= 5);
    assert!(ns.rt_cache_stat.in_martian_dst >= 4);
}

#[test]
fn forwarding_results_with_forwarding_on() {
    let mut ns = lab().sysctl("net.ipv4.ip_forward", 1).build();
    expect_fwd(&mut ns, "10.0.2.2", "0.1.2.3", "r0", "r1", None);
    // Back out the input device toward an on-link source: redirect.
    let r = ok(&mut ns, "10.0.3.5", "10.0.1.2", "r0");
    assert_eq!(
        (name(&ns, r.dev), r.gateway.unwrap().to_string()),
        ("r0", "10.0.1.3".into())
    );
    assert_ne!(r.rtm_flags & RtcFlags::RTCF_DOREDIRECT.0, 0);
    let r = ok(&mut ns, "224.0.0.1", "10.0.1.2", "r0");
    assert_eq!(
        (r.rt_type, name(&ns, r.dev)),
        (RouteType::RTN_MULTICAST, "lo")
    );
    let want = RtcFlags::RTCF_LOCAL.0 | RtcFlags::RTCF_MULTICAST.0;
    assert_eq!(r.rtm_flags & want, want);
    let r = ok(&mut ns, "10.0.2.255", "10.0.1.2", "r0");
    assert_eq!(
        (r.rt_type, name(&ns, r.dev)),
        (RouteType::RTN_BROADCAST, "lo")
    );
    let r = ok(&mut ns, "0.0.0.0", "0.0.0.0", "r0");
    assert_eq!((r.rt_type, r.src), (RouteType::RTN_BROADCAST, None));
    let r = get(&mut ns, "10.0.2.2", "10.0.1.2", "r0", 0, 7).unwrap();
    assert_eq!((name(&ns, r.dev), r.mark), ("r1", 7));
}

#[test]
fn rp_filter_strict_loose_and_all() {
    let base = || lab().sysctl("net.ipv4.ip_forward", 1);
    let mut ns = base().build();
    expect_fwd(&mut ns, "10.0.2.2", "10.0.2.5", "r0", "r1", None);
    expect_fwd(&mut ns, "10.0.2.2", "198.51.100.7", "r0", "r1", None);
    let mut ns = base().sysctl("net.ipv4.conf.r0.rp_filter", 1).build();
    expect_err(
        &mut ns,
        "10.0.2.2",
        "10.0.2.5",
        "r0",
        Errno::EINVAL,
        R::IP_RPFILTER,
    );
    expect_err(
        &mut ns,
        "10.0.2.2",
        "198.51.100.7",
        "r0",
        Errno::EINVAL,
        R::IP_RPFILTER,
    );
    expect_fwd(&mut ns, "10.0.2.2", "10.0.1.2", "r0", "r1", None);
    let mut ns = base().sysctl("net.ipv4.conf.r0.rp_filter", 2).build();
    expect_fwd(&mut ns, "10.0.2.2", "10.0.2.5", "r0", "r1", None);
    expect_err(
        &mut ns,
        "10.0.2.2",
        "198.51.100.7",
        "r0",
        Errno::EINVAL,
        R::IP_RPFILTER,
    );
    let mut ns = base()
        .sysctl("net.ipv4.conf.all.rp_filter", 1)
        .sysctl("net.ipv4.conf.r0.rp_filter", 0)
        .build();
    expect_err(
        &mut ns,
        "10.0.2.2",
        "10.0.2.5",
        "r0",
        Errno::EINVAL,
        R::IP_RPFILTER,
    );
}

#[test]
fn accept_local_and_route_localnet() {
    let mut ns = lab()
        .sysctl("net.ipv4.ip_forward", 1)
        .sysctl("net.ipv4.conf.r0.accept_local", 1)
        .build();
    expect_fwd(&mut ns, "10.0.2.2", "10.0.2.1", "r0", "r1", None);
    let mut ns = lab()
        .sysctl("net.ipv4.ip_forward", 1)
        .sysctl("net.ipv4.conf.r0.route_localnet", 1)
        .build();
    let e = err(&mut ns, "10.0.2.2", "127.0.0.1", "r0");
    assert_eq!(e.errno, Errno::EINVAL);
    let r = ok(&mut ns, "127.0.0.1", "10.0.1.2", "r0");
    assert_eq!(r.rt_type, RouteType::RTN_LOCAL);
}

#[test]
fn rule_actions_and_selectors() {
    let fwd = || {
        lab()
            .sysctl("net.ipv4.ip_forward", 1)
            .route(
                UNICAST,
                "10.0.5.0/24",
                Some("10.0.2.2"),
                Some("r1"),
                100,
                0,
                0,
            )
            .route(RouteType::RTN_THROW, "10.0.6.0/24", None, None, 100, 0, 0)
            .route(
                UNICAST,
                "10.0.6.0/24",
                Some("10.0.2.3"),
                Some("r1"),
                254,
                0,
                0,
            )
    };
    let mut ns = fwd()
        .rule(100, |r| {
            r.dst = Some(("10.0.7.1".parse().unwrap(), 32));
            r.action = FibRuleAction::FR_ACT_UNREACHABLE
        })
        .rule(101, |r| {
            r.dst = Some(("10.0.7.2".parse().unwrap(), 32));
            r.action = FibRuleAction::FR_ACT_PROHIBIT
        })
        .rule(102, |r| {
            r.dst = Some(("10.0.7.3".parse().unwrap(), 32));
            r.action = FibRuleAction::FR_ACT_BLACKHOLE
        })
        .rule(200, |r| {
            r.src = Some(("10.0.1.0".parse().unwrap(), 24));
            r.table = 100
        })
        .build();
    expect_err(
        &mut ns,
        "10.0.7.1",
        "10.0.1.2",
        "r0",
        Errno::ENETUNREACH,
        R::IP_INNOROUTES,
    );
    expect_err(
        &mut ns,
        "10.0.7.2",
        "10.0.1.2",
        "r0",
        Errno::EACCES,
        R::NOT_SPECIFIED,
    );
    expect_err(
        &mut ns,
        "10.0.7.3",
        "10.0.1.2",
        "r0",
        Errno::EINVAL,
        R::NOT_SPECIFIED,
    );
    let r = ok(&mut ns, "10.0.5.1", "10.0.1.2", "r0");
    assert_eq!(
        (r.table, r.gateway.unwrap().to_string()),
        (100, "10.0.2.2".into())
    );
    // A throw route continues at the next rule (main).
    let r = ok(&mut ns, "10.0.6.1", "10.0.1.2", "r0");
    assert_eq!(
        (r.table, r.gateway.unwrap().to_string()),
        (254, "10.0.2.3".into())
    );
    // Custom rules un-merge local: its answers name the table.
    let r = ok(&mut ns, "10.0.1.1", "10.0.1.2", "r0");
    assert_eq!(r.table, 255);

    let mut ns = fwd()
        .rule(200, |r| {
            r.src = Some(("10.0.1.0".parse().unwrap(), 24));
            r.invert = true;
            r.table = 100
        })
        .build();
    expect_err(
        &mut ns,
        "10.0.5.1",
        "10.0.1.2",
        "r0",
        Errno::ENETUNREACH,
        R::IP_INNOROUTES,
    );
    assert_eq!(ok(&mut ns, "10.0.5.1", "10.0.9.9", "r0").table, 100);

    let mut ns = fwd()
        .rule(200, |r| {
            r.mark = 7;
            r.mark_mask = 0xff;
            r.table = 100
        })
        .build();
    assert_eq!(
        get(&mut ns, "10.0.5.1", "10.0.1.2", "r0", 0, 7)
            .unwrap()
            .table,
        100
    );
    assert_eq!(
        get(&mut ns, "10.0.5.1", "10.0.1.2", "r0", 0, 0x107)
            .unwrap()
            .table,
        100
    );
    assert_eq!(
        get(&mut ns, "10.0.5.1", "10.0.1.2", "r0", 0, 8)
            .unwrap_err()
            .errno,
        Errno::ENETUNREACH
    );

    let mut ns = fwd()
        .rule(200, |r| {
            r.tos = 0x10;
            r.table = 100
        })
        .build();
    assert_eq!(
        get(&mut ns, "10.0.5.1", "10.0.1.2", "r0", 0x10, 0)
            .unwrap()
            .table,
        100
    );
    assert_eq!(
        get(&mut ns, "10.0.5.1", "10.0.1.2", "r0", 0x30, 0)
            .unwrap()
            .table,
        100
    );
    assert_eq!(
        get(&mut ns, "10.0.5.1", "10.0.1.2", "r0", 0x14, 0)
            .unwrap_err()
            .errno,
        Errno::ENETUNREACH
    );

    let mut ns = fwd()
        .rule(210, |r| {
            r.dst = Some(("10.0.5.0".parse().unwrap(), 24));
            r.action = FibRuleAction::FR_ACT_GOTO;
            r.target = 300
        })
        .rule(250, |r| {
            r.src = Some(("10.0.1.0".parse().unwrap(), 24));
            r.table = 254
        })
        .rule(300, |r| r.table = 100)
        .build();
    assert_eq!(ok(&mut ns, "10.0.5.1", "10.0.1.2", "r0").table, 100);
}

#[test]
fn route_tos_and_longest_prefix() {
    let mut ns = lab()
        .sysctl("net.ipv4.ip_forward", 1)
        .route(
            UNICAST,
            "10.0.8.0/24",
            Some("10.0.2.8"),
            Some("r1"),
            254,
            0,
            0,
        )
        .route(
            UNICAST,
            "10.0.8.0/24",
            Some("10.0.2.18"),
            Some("r1"),
            254,
            0,
            0x10,
        )
        .route(
            UNICAST,
            "10.0.8.0/24",
            Some("10.0.2.28"),
            Some("r1"),
            254,
            0,
            0x20,
        )
        .build();
    let gw = |ns: &mut Netns, tos| {
        get(ns, "10.0.8.1", "10.0.1.2", "r0", tos, 0)
            .unwrap()
            .gateway
            .unwrap()
            .to_string()
    };
    assert_eq!(gw(&mut ns, 0), "10.0.2.8");
    assert_eq!(gw(&mut ns, 0x10), "10.0.2.18");
    assert_eq!(
        get(&mut ns, "10.0.8.1", "10.0.1.2", "r0", 0x10, 0)
            .unwrap()
            .tos,
        0x10
    );
    assert_eq!(gw(&mut ns, 0x30), "10.0.2.18");
    assert_eq!(gw(&mut ns, 0x12), "10.0.2.18");
    assert_eq!(gw(&mut ns, 0x14), "10.0.2.8");
    assert_eq!(gw(&mut ns, 0x20), "10.0.2.8");
}

#[test]
fn bc_forwarding_needs_all_and_device() {
    let mut ns = lab()
        .sysctl("net.ipv4.ip_forward", 1)
        .sysctl("net.ipv4.conf.r0.bc_forwarding", 1)
        .build();
    let r = ok(&mut ns, "10.0.2.255", "10.0.1.2", "r0");
    assert_eq!(
        (r.rt_type, name(&ns, r.dev)),
        (RouteType::RTN_BROADCAST, "lo")
    );
    let mut ns = lab()
        .sysctl("net.ipv4.ip_forward", 1)
        .sysctl("net.ipv4.conf.all.bc_forwarding", 1)
        .sysctl("net.ipv4.conf.r0.bc_forwarding", 1)
        .build();
    let r = ok(&mut ns, "10.0.2.255", "10.0.1.2", "r0");
    assert_eq!(
        (r.rt_type, name(&ns, r.dev)),
        (RouteType::RTN_BROADCAST, "r1")
    );
}

#[test]
fn forwarding_propagation_follows_devinet_sysctl_forward() {
    let mut ns = lab().build();
    ns.sysctl_write("net.ipv4.ip_forward", 1).unwrap();
    assert_eq!(ns.sysctl_get("net.ipv4.conf.r0.forwarding").unwrap(), 1);
    assert_eq!(ns.sysctl_get("net.ipv4.conf.lo.forwarding").unwrap(), 1);
    assert_eq!(
        ns.sysctl_get("net.ipv4.conf.default.forwarding").unwrap(),
        1
    );
    assert_eq!(
        ns.sysctl_get("net.ipv4.conf.all.accept_redirects").unwrap(),
        0
    );
    ns.sysctl_write("net.ipv4.conf.r1.forwarding", 0).unwrap();
    ns.sysctl_write("net.ipv4.ip_forward", 1).unwrap();
    assert_eq!(
        ns.sysctl_get("net.ipv4.conf.r1.forwarding").unwrap(),
        0,
        "same value again changes nothing"
    );
    ns.sysctl_write("net.ipv4.conf.default.forwarding", 0)
        .unwrap();
    assert_eq!(
        ns.sysctl_get("net.ipv4.conf.r0.forwarding").unwrap(),
        1,
        "existing devices untouched"
    );
    ns.sysctl_write("net.ipv4.conf.all.forwarding", 0).unwrap();
    assert_eq!(ns.sysctl_get("net.ipv4.conf.r0.forwarding").unwrap(), 0);
    assert_eq!(
        ns.sysctl_get("net.ipv4.conf.all.accept_redirects").unwrap(),
        1
    );
    // default.X reaches devices without an address only.
    let mut ns = HostBuilder::router().dev("t0", "").build();
    ns.sysctl_write("net.ipv4.conf.default.rp_filter", 2)
        .unwrap();
    assert_eq!(ns.sysctl_get("net.ipv4.conf.t0.rp_filter").unwrap(), 2);
    assert_eq!(ns.sysctl_get("net.ipv4.conf.r0.rp_filter").unwrap(), 0);
}

#[test]
fn unreachable_dst_dispatches_to_ip_error() {
    use crate::core::dst::{NetRx, dst_input};
    use crate::core::skbuff::SkBuff;
    use crate::trace::NoTrace;
    let mut ns = lab().build();
    let mut buf = [0u8; 28];
    let mut skb = SkBuff::new(&mut buf, ns.dev_by_name("r0").unwrap().ifindex, 0);
    let dev = skb.dev;
    crate::ipv4::route::ip_route_input_noref(
        &mut ns,
        &mut skb,
        "8.8.8.8".parse().unwrap(),
        "10.0.1.2".parse().unwrap(),
        0,
        dev,
        &mut NoTrace,
    )
    .unwrap();
    let rt = skb.dst.unwrap();
    assert_eq!(rt.dst.input.name, crate::trace::KernelFn::ip_error);
    assert_eq!(rt.rt_type, RouteType::RTN_UNREACHABLE);
    assert_eq!(rt.dst.error, Errno::EHOSTUNREACH);
    assert_eq!(dst_input(&mut ns, &mut skb, &mut NoTrace), NetRx::Drop);
    assert_eq!(skb.drop_reason, R::IP_INADDRERRORS);
    assert_eq!(skb.icmp, None);
    assert_eq!(ns.mib.ip.InAddrErrors, 1);
    assert_eq!(ns.rt_cache_stat.in_no_route, 1);
}

#[test]
fn forwarding_route_is_cached_per_next_hop() {
    let mut ns = lab().sysctl("net.ipv4.ip_forward", 1).build();
    expect_fwd(&mut ns, "10.0.2.2", "10.0.1.2", "r0", "r1", None);
    let before = ns.rt_cache_stat.in_slow_tot;
    expect_fwd(&mut ns, "10.0.2.7", "10.0.1.9", "r0", "r1", None);
    assert_eq!(
        ns.rt_cache_stat.in_slow_tot, before,
        "the second flow reuses nhc_rth_input"
    );
    ns.sysctl_write("net.ipv4.conf.r0.forwarding", 0).unwrap();
    ns.sysctl_write("net.ipv4.conf.r0.forwarding", 1).unwrap();
    expect_fwd(&mut ns, "10.0.2.7", "10.0.1.9", "r0", "r1", None);
    assert_eq!(
        ns.rt_cache_stat.in_slow_tot,
        before + 1,
        "a flush makes the cached route stale"
    );
}

#[test]
fn no_trace_is_zero_sized() {
    assert_eq!(std::mem::size_of::<crate::trace::NoTrace>(), 0);
}

fn out(
    ns: &mut Netns,
    dst: &str,
    src: &str,
    tos: u8,
    mark: u32,
) -> Result<RouteGetReply, RouteGetError> {
    use crate::ipv4::rtnetlink::{RouteGetRequest, inet_rtm_getroute};
    let mut req = RouteGetRequest::new(dst.parse().unwrap());
    req.src = src.parse().unwrap();
    req.tos = tos;
    req.mark = mark;
    let mut buf = [0; 28];
    inet_rtm_getroute(ns, &req, &mut buf, &mut crate::trace::NoTrace)
}

#[test]
fn output_path_selects_the_source_address() {
    // Answers of `ip route get` without iif on the same host (kernel 6.18).
    let mut ns = lab()
        .sysctl("net.ipv4.ip_forward", 1)
        .route(
            UNICAST,
            "10.0.8.0/24",
            Some("10.0.2.8"),
            Some("r1"),
            254,
            0,
            0,
        )
        .route(
            UNICAST,
            "10.0.8.0/24",
            Some("10.0.2.18"),
            Some("r1"),
            254,
            0,
            0x10,
        )
        .build();
    let r = out(&mut ns, "10.0.8.1", "0.0.0.0", 0, 0).unwrap();
    assert_eq!(
        (name(&ns, r.dev), r.gateway.unwrap().to_string()),
        ("r1", "10.0.2.8".into())
    );
    assert_eq!(
        (r.prefsrc.unwrap().to_string(), r.uid, r.src),
        ("10.0.2.1".into(), Some(0), None)
    );
    let r = out(&mut ns, "10.0.8.1", "10.0.1.1", 0x10, 0).unwrap();
    assert_eq!(
        (r.gateway.unwrap().to_string(), r.tos, r.prefsrc),
        ("10.0.2.18".into(), 0x10, None)
    );
    let r = out(&mut ns, "10.0.1.1", "0.0.0.0", 0, 0).unwrap();
    assert_eq!(
        (r.rt_type, name(&ns, r.dev), r.prefsrc.unwrap().to_string()),
        (RouteType::RTN_LOCAL, "lo", "10.0.1.1".into())
    );
    let r = out(&mut ns, "10.0.2.5", "0.0.0.0", 0, 3).unwrap();
    assert_eq!((name(&ns, r.dev), r.gateway, r.mark), ("r1", None, 3));
    // A source that is not ours: the output path refuses it.
    assert_eq!(
        out(&mut ns, "10.0.2.2", "10.0.1.2", 0, 0)
            .unwrap_err()
            .errno,
        Errno::ENETUNREACH
    );
    assert_eq!(
        out(&mut ns, "198.51.100.1", "0.0.0.0", 0, 0)
            .unwrap_err()
            .errno,
        Errno::ENETUNREACH
    );
}

#[test]
fn iif_rules_and_detached_devices() {
    let base = || {
        lab().sysctl("net.ipv4.ip_forward", 1).route(
            UNICAST,
            "10.0.5.0/24",
            Some("10.0.2.2"),
            Some("r1"),
            100,
            0,
            0,
        )
    };
    let mut ns = base()
        .rule(200, |r| {
            r.iifname = Some("r1".into());
            r.table = 100
        })
        .build();
    let r = ok(&mut ns, "10.0.5.1", "10.0.2.2", "r1");
    assert_eq!((r.table, name(&ns, r.dev)), (100, "r1"));
    assert_ne!(r.rtm_flags & RtcFlags::RTCF_DOREDIRECT.0, 0);
    expect_err(
        &mut ns,
        "10.0.5.1",
        "10.0.1.2",
        "r0",
        Errno::ENETUNREACH,
        R::IP_INNOROUTES,
    );
    // A rule naming a device that does not exist never matches.
    let mut ns = base()
        .rule(200, |r| {
            r.iifname = Some("nosuch0".into());
            r.table = 100
        })
        .build();
    assert!(ns.fib.rules.iter().any(|r| r.iif_detached()));
    expect_err(
        &mut ns,
        "10.0.5.1",
        "10.0.2.2",
        "r1",
        Errno::ENETUNREACH,
        R::IP_INNOROUTES,
    );
    // An oif rule never matches on input (the flow's oif is 0).
    let mut ns = base()
        .rule(200, |r| {
            r.oifname = Some("r1".into());
            r.table = 100
        })
        .build();
    expect_err(
        &mut ns,
        "10.0.5.1",
        "10.0.1.2",
        "r0",
        Errno::ENETUNREACH,
        R::IP_INNOROUTES,
    );
}

#[test]
fn nop_suppress_and_unresolved_goto_continue_the_walk() {
    let base = || {
        lab()
            .sysctl("net.ipv4.ip_forward", 1)
            .route(
                UNICAST,
                "0.0.0.0/0",
                Some("10.0.2.2"),
                Some("r1"),
                100,
                0,
                0,
            )
            .route(
                UNICAST,
                "10.0.5.0/24",
                Some("10.0.2.3"),
                Some("r1"),
                254,
                0,
                0,
            )
    };
    // suppress_prefixlength 0: table 100's default route is ignored, main answers.
    let mut ns = base()
        .rule(100, |r| {
            r.table = 100;
            r.suppress_prefixlen = 0
        })
        .build();
    let r = ok(&mut ns, "10.0.5.1", "10.0.1.2", "r0");
    assert_eq!(
        (r.table, r.gateway.unwrap().to_string()),
        (254, "10.0.2.3".into())
    );
    // nop continues; a goto to a pref that does not exist is skipped.
    let mut ns = base()
        .rule(90, |r| r.action = FibRuleAction::FR_ACT_NOP)
        .rule(95, |r| {
            r.action = FibRuleAction::FR_ACT_GOTO;
            r.target = 96
        })
        .rule(100, |r| r.table = 100)
        .build();
    assert_eq!(ok(&mut ns, "10.0.5.1", "10.0.1.2", "r0").table, 100);
}

#[test]
fn linkdown_next_hops_and_ignore_routes_with_linkdown() {
    let base = || {
        lab()
            .dev("t0", "10.0.4.1/24")
            .no_carrier("t0")
            .sysctl("net.ipv4.ip_forward", 1)
            .route(
                UNICAST,
                "10.0.9.0/24",
                Some("10.0.4.2"),
                Some("t0"),
                254,
                10,
                0,
            )
            .route(
                UNICAST,
                "10.0.9.0/24",
                Some("10.0.2.9"),
                Some("r1"),
                254,
                20,
                0,
            )
    };
    let mut ns = base().build();
    expect_fwd(
        &mut ns,
        "10.0.9.1",
        "10.0.1.2",
        "r0",
        "t0",
        Some("10.0.4.2"),
    );
    let mut ns = base()
        .sysctl("net.ipv4.conf.t0.ignore_routes_with_linkdown", 1)
        .build();
    expect_fwd(
        &mut ns,
        "10.0.9.1",
        "10.0.1.2",
        "r0",
        "r1",
        Some("10.0.2.9"),
    );
}

#[test]
fn multipath_picks_one_of_the_next_hops() {
    use crate::netns::{NexthopSpec, RouteSpec};
    use crate::uapi::RtnhFlags;
    let mut ns = lab().sysctl("net.ipv4.ip_forward", 1).build();
    let mut spec = RouteSpec::new(UNICAST, "10.0.10.0".parse().unwrap(), 24);
    for (gw, dev) in [("10.0.2.10", "r1"), ("10.0.1.10", "r0")] {
        let dev = Some(ns.dev_by_name(dev).unwrap().ifindex);
        spec.nexthops.push(NexthopSpec {
            gw: Some(gw.parse().unwrap()),
            dev,
            weight: 1,
            flags: RtnhFlags(0),
        });
    }
    ns.fib_table_insert(&spec, false).unwrap();
    let mut devs = std::collections::BTreeSet::new();
    for i in 20..60 {
        let r = ok(&mut ns, "10.0.10.1", &format!("10.0.1.{i}"), "r0");
        devs.insert(name(&ns, r.dev).to_string());
    }
    assert_eq!(
        devs.into_iter().collect::<Vec<_>>(),
        ["r0", "r1"],
        "flows spread over both paths"
    );
}

#[test]
fn a_device_without_ipv4_state_drops_without_counting() {
    let mut ns = lab().sysctl("net.ipv4.ip_forward", 1).build();
    let r0 = ns.dev_by_name("r0").unwrap().ifindex;
    ns.dev_mut(r0).unwrap().ip_ptr = None;
    let e = err(&mut ns, "10.0.2.2", "10.0.1.2", "r0");
    assert_eq!(
        (e.errno, e.drop_reason),
        (Errno::EINVAL, Some(R::NOT_SPECIFIED))
    );
    assert_eq!(
        ns.rt_cache_stat.in_martian_src + ns.rt_cache_stat.in_martian_dst,
        0
    );
}

#[test]
fn one_address_on_two_devices_answers_from_the_later_device() {
    // `ip route get 232.1.1.1 from 10.9.0.1` on kernel 6.18 after adding
    // 10.9.0.1/24 to va and then 10.9.0.1/25 to vb answers dev vb.
    let mut ns = HostBuilder::new()
        .dev("va", "10.9.0.1/24")
        .dev("vb", "10.9.0.1/25")
        .build();
    let r = out(&mut ns, "232.1.1.1", "10.9.0.1", 0, 0).unwrap();
    assert_eq!(
        (r.rt_type, name(&ns, r.dev)),
        (RouteType::RTN_MULTICAST, "vb")
    );
}
