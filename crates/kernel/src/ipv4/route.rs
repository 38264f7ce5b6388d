//! Models the input route decision of net/ipv4/route.c:
//! `ip_route_input_noref` → `ip_route_input_rcu` → `ip_route_input_slow`
//! with its labels `brd_input`, `local_input`, `no_route`,
//! `martian_source`, `martian_destination` and `make_route`; the multicast
//! branch `ip_route_input_mc`; the forwarding route `ip_mkroute_input` /
//! `__mkroute_input` with its per-next-hop cache; `rt_dst_alloc`; and the
//! handler of unreachable routes, `ip_error`.

use std::net::Ipv4Addr;

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::{DstEntry, DstFlags, NetRx, Rtable};
use crate::core::skbuff::{ETH_P_IP, IpskbFlags, SkBuff};
use crate::flow::{FibResult, Flowi4};
use crate::ipv4::fib_frontend::fib_validate_source;
use crate::ipv4::fib_rules::fib_lookup;
use crate::ipv4::fib_semantics::fib_select_multipath;
use crate::ipv4::ip_forward::ip_forward;
use crate::ipv4::ip_input::{dst_discard, ip_local_deliver, ip_mr_input};
use crate::ipv4::ip_output::{ip_output, ip_rt_bug};
use crate::netns::{IfIndex, Netns};
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};
use crate::uapi::{Errno, RouteType, RtScope, RtcFlags};
use crate::{dst_input_fn, dst_output_fn};

/// `ipv4_is_multicast`: 224.0.0.0/4.
#[inline]
pub fn ipv4_is_multicast(a: Ipv4Addr) -> bool {
    a.octets()[0] & 0xf0 == 0xe0
}

/// `ipv4_is_lbcast`: 255.255.255.255 only.
#[inline]
pub fn ipv4_is_lbcast(a: Ipv4Addr) -> bool {
    a == Ipv4Addr::BROADCAST
}

/// `ipv4_is_zeronet`: exactly 0.0.0.0 (0.0.0.0/8 is ordinary unicast since 5.x).
#[inline]
pub fn ipv4_is_zeronet(a: Ipv4Addr) -> bool {
    a.is_unspecified()
}

/// `ipv4_is_loopback`: 127.0.0.0/8.
#[inline]
pub fn ipv4_is_loopback(a: Ipv4Addr) -> bool {
    a.octets()[0] == 127
}

/// `ipv4_is_local_multicast`: 224.0.0.0/24.
#[inline]
pub fn ipv4_is_local_multicast(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 224 && o[1] == 0 && o[2] == 0
}

/// `IPPROTO_IGMP`.
pub const IPPROTO_IGMP: u8 = 2;

/// Kernel: `rt_dst_alloc`: a new route of `rt_type` on `dev`. Output is
/// `ip_output`; input is `ip_local_deliver` when `RTCF_LOCAL` is set, else
/// `dst_discard` until the caller sets it.
pub fn rt_dst_alloc(
    ns: &Netns,
    dev: IfIndex,
    flags: RtcFlags,
    rt_type: RouteType,
    noxfrm: bool,
) -> Rtable {
    let input = if flags.contains(RtcFlags::RTCF_LOCAL) {
        dst_input_fn!(ip_local_deliver)
    } else {
        dst_input_fn!(dst_discard)
    };
    Rtable {
        dst: DstEntry {
            dev,
            input,
            output: dst_output_fn!(ip_output),
            error: Errno(0),
            flags: if noxfrm {
                DstFlags::DST_NOXFRM
            } else {
                DstFlags(0)
            },
        },
        rt_genid: ns.rt_genid,
        rt_flags: flags,
        rt_type,
        rt_is_input: false,
        rt_uses_gateway: false,
        rt_iif: IfIndex(0),
        rt_gw4: Ipv4Addr::UNSPECIFIED,
        rt_mtu_locked: false,
        rt_pmtu: 0,
        mtu_metric: 0,
        table: 0,
        dscp: 0,
        prefsrc: None,
    }
}

/// Kernel: `rt_cache_valid`: a cached route of the current generation.
#[inline]
pub fn rt_cache_valid(ns: &Netns, rt: Option<&Rtable>) -> bool {
    rt.is_some_and(|rt| rt.rt_genid == ns.rt_genid)
}

/// Kernel: `ip_route_input_noref`: the input route decision for a packet
/// from `saddr` to `daddr` with DSCP `dscp` (TOS byte, ECN bits ignored)
/// received on `dev`. On success the skb holds the route (`skb.dst`);
/// otherwise the reason a real packet is dropped with.
pub fn ip_route_input_noref<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    t.enter(KernelFn::ip_route_input_noref);
    let mut res = FibResult::empty();
    let r = ip_route_input_rcu(ns, skb, daddr, saddr, dscp & 0xfc, dev, &mut res, t);
    t.leave();
    r
}

/// Kernel: `ip_route_input_rcu`: multicast destinations go to
/// `ip_route_input_mc` when the group is joined on the device (or
/// multicast forwarding applies), else are dropped without a counter;
/// everything else to `ip_route_input_slow`.
#[allow(clippy::too_many_arguments)]
pub fn ip_route_input_rcu<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    res: &mut FibResult,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let mc = ipv4_is_multicast(daddr);
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_route_input_rcu,
            Check::DaddrMulticast { daddr, value: mc },
            if mc {
                Branch::Next
            } else {
                Branch::ip_route_input_slow
            },
        ));
    }
    if !mc {
        return ip_route_input_slow(ns, skb, daddr, saddr, dscp, dev, res, t);
    }
    let Some(idev) = ns.in_dev(dev) else {
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::ip_route_input_rcu,
                Check::InDevice {
                    dev,
                    present: false,
                },
                Branch::out,
            ));
        }
        return Err(SkbDropReason::NOT_SPECIFIED);
    };
    // ip_check_mc_rcu: IGMP always counts when joined; the groups the kernel
    // joins itself have no source filter.
    let our = idev.mc_list.contains(&daddr);
    let mforward = !ipv4_is_local_multicast(daddr) && ns.in_dev_mforward(idev);
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_check_mc_rcu,
            Check::McJoined {
                dev,
                group: daddr,
                value: our,
            },
            Branch::Next,
        ));
        t.step(Step::new(
            KernelFn::ip_route_input_rcu,
            Check::McForwarding {
                dev,
                value: mforward,
            },
            if our || mforward {
                Branch::ip_route_input_mc
            } else {
                Branch::out
            },
        ));
    }
    if our || mforward {
        ip_route_input_mc(ns, skb, daddr, saddr, dscp, dev, our, t)
    } else {
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::ip_route_input_rcu,
                Check::Drop {
                    reason: SkbDropReason::NOT_SPECIFIED,
                },
                Branch::out,
            ));
        }
        Err(SkbDropReason::NOT_SPECIFIED)
    }
}

/// Kernel: `ip_mc_validate_source`: the source checks for a multicast
/// destination (no martian counter on failure).
pub fn ip_mc_validate_source<T: Tracer>(
    ns: &Netns,
    skb: &SkBuff<'_>,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let Some(idev) = ns.in_dev(dev) else {
        return Err(SkbDropReason::NOT_SPECIFIED);
    };
    if ipv4_is_multicast(saddr) || ipv4_is_lbcast(saddr) {
        return Err(SkbDropReason::IP_INVALID_SOURCE);
    }
    if skb.protocol != ETH_P_IP {
        return Err(SkbDropReason::INVALID_PROTO);
    }
    if ipv4_is_loopback(saddr) && !ns.in_dev_route_localnet(idev) {
        return Err(SkbDropReason::IP_LOCALNET);
    }
    if ipv4_is_zeronet(saddr) {
        if !ipv4_is_local_multicast(daddr) && skb.ip_protocol != IPPROTO_IGMP {
            return Err(SkbDropReason::IP_INVALID_SOURCE);
        }
        return Ok(());
    }
    fib_validate_source(
        ns,
        skb.mark,
        saddr,
        Ipv4Addr::UNSPECIFIED,
        dscp,
        IfIndex(0),
        dev,
        idev,
        t,
    )
    .map(|_| ())
}

/// Kernel: `ip_route_input_mc`: a multicast input route on the loopback
/// device, delivered locally when the group is joined (`RTCF_LOCAL`), to
/// `ip_mr_input` when multicast forwarding applies, else discarded. Never cached.
#[allow(clippy::too_many_arguments)]
pub fn ip_route_input_mc<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    our: bool,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    t.enter(KernelFn::ip_route_input_mc);
    let r = (|| {
        if let Err(reason) = ip_mc_validate_source(ns, skb, daddr, saddr, dscp, dev, t) {
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::ip_mc_validate_source,
                    Check::Drop { reason },
                    Branch::out,
                ));
            }
            return Err(reason);
        }
        let idev = ns.in_dev(dev).expect("checked by ip_mc_validate_source");
        let nopolicy = ns.in_dev_nopolicy(idev);
        let mforward = !ipv4_is_local_multicast(daddr) && ns.in_dev_mforward(idev);
        let mut flags = RtcFlags::RTCF_MULTICAST;
        if our {
            flags |= RtcFlags::RTCF_LOCAL;
        }
        if nopolicy {
            skb.cb.flags.0 |= IpskbFlags::IPSKB_NOPOLICY.0;
        }
        let mut rth = rt_dst_alloc(
            ns,
            ns.loopback_ifindex(),
            flags,
            RouteType::RTN_MULTICAST,
            false,
        );
        rth.dst.output = dst_output_fn!(ip_rt_bug);
        rth.rt_is_input = true;
        if mforward {
            rth.dst.input = dst_input_fn!(ip_mr_input);
        }
        ns.rt_cache_stat.in_slow_mc += 1;
        trace_dst_made(t, KernelFn::ip_route_input_mc, &rth);
        skb.dst = Some(rth);
        Ok(())
    })();
    t.leave();
    r
}

fn trace_dst_made<T: Tracer>(t: &mut T, f: KernelFn, rt: &Rtable) {
    if T::ENABLED {
        t.step(Step::new(
            f,
            Check::DstMade {
                input: rt.dst.input.name,
                output: rt.dst.output.name,
                rt_type: rt.rt_type,
                dev: rt.dst.dev,
                error: rt.dst.error,
            },
            Branch::ok,
        ));
    }
}

/// Kernel: `ip_route_input_slow`: the unicast and broadcast input route
/// decision, with every check in the kernel's order.
#[allow(clippy::too_many_arguments)]
pub fn ip_route_input_slow<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    res: &mut FibResult,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    t.enter(KernelFn::ip_route_input_slow);
    let r = input_slow(ns, skb, daddr, saddr, dscp, dev, res, t);
    t.leave();
    r
}

/// Where `ip_route_input_slow` goes after its checks.
enum Label {
    BrdInput,
    LocalInput,
    NoRoute(Errno),
    MartianSource(SkbDropReason),
    MartianDestination(SkbDropReason),
    MakeRoute,
    Out(SkbDropReason),
}

#[allow(clippy::too_many_arguments)]
fn input_slow<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    res: &mut FibResult,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let mut do_cache = true;
    let mut flags = RtcFlags(0);

    let label = {
        let Some(idev) = ns.in_dev(dev) else {
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::ip_route_input_slow,
                    Check::InDevice {
                        dev,
                        present: false,
                    },
                    Branch::out,
                ));
            }
            return Err(SkbDropReason::NOT_SPECIFIED);
        };
        skb.dst = None;
        decide(
            ns,
            skb,
            idev,
            daddr,
            saddr,
            dscp,
            dev,
            res,
            &mut do_cache,
            t,
        )
    };

    match label {
        Label::Out(reason) => Err(reason),
        Label::MakeRoute => ip_mkroute_input(ns, skb, res, daddr, saddr, dscp, dev, t),
        Label::MartianDestination(reason) => {
            ns.rt_cache_stat.in_martian_dst += 1;
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::ip_route_input_slow,
                    Check::Counter {
                        name: "in_martian_dst",
                    },
                    Branch::martian_destination,
                ));
                t.step(Step::new(
                    KernelFn::ip_route_input_slow,
                    Check::Drop { reason },
                    Branch::out,
                ));
            }
            Err(reason)
        }
        Label::MartianSource(reason) => {
            ip_handle_martian_source(ns, t);
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::ip_route_input_slow,
                    Check::Drop { reason },
                    Branch::out,
                ));
            }
            Err(reason)
        }
        Label::BrdInput => {
            // brd_input: the source was validated in decide().
            flags |= RtcFlags::RTCF_BROADCAST;
            res.rt_type = RouteType::RTN_BROADCAST;
            ns.rt_cache_stat.in_brd += 1;
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::ip_route_input_slow,
                    Check::Counter { name: "in_brd" },
                    Branch::local_input,
                ));
            }
            local_input(ns, skb, res, flags, do_cache, Errno(0), dev, t)
        }
        Label::LocalInput => local_input(ns, skb, res, flags, do_cache, Errno(0), dev, t),
        Label::NoRoute(err) => {
            ns.rt_cache_stat.in_no_route += 1;
            res.rt_type = RouteType::RTN_UNREACHABLE;
            res.fi = None;
            res.table = 0;
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::ip_route_input_slow,
                    Check::Counter {
                        name: "in_no_route",
                    },
                    Branch::local_input,
                ));
            }
            local_input(ns, skb, res, flags, do_cache, err, dev, t)
        }
    }
}

/// The checks of `ip_route_input_slow` up to the first label, with the
/// device's IPv4 state borrowed.
#[allow(clippy::too_many_arguments)]
fn decide<T: Tracer>(
    ns: &Netns,
    skb: &mut SkBuff<'_>,
    idev: &crate::ipv4::devinet::InDevice,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    res: &mut FibResult,
    do_cache: &mut bool,
    t: &mut T,
) -> Label {
    const F: KernelFn = KernelFn::ip_route_input_slow;
    macro_rules! step {
        ($check:expr, $branch:expr) => {
            if T::ENABLED {
                t.step(Step::new(F, $check, $branch));
            }
        };
    }

    let v = ipv4_is_multicast(saddr) || ipv4_is_lbcast(saddr);
    step!(
        Check::SaddrMartian { saddr, value: v },
        if v {
            Branch::martian_source
        } else {
            Branch::Next
        }
    );
    if v {
        return Label::MartianSource(SkbDropReason::IP_INVALID_SOURCE);
    }
    *res = FibResult::empty();

    let v = ipv4_is_lbcast(daddr) || (saddr.is_unspecified() && daddr.is_unspecified());
    step!(
        Check::DaddrBroadcast {
            daddr,
            saddr,
            value: v
        },
        if v { Branch::brd_input } else { Branch::Next }
    );
    if v {
        return brd_input(ns, skb, idev, saddr, dscp, dev, t);
    }

    let v = ipv4_is_zeronet(saddr);
    step!(
        Check::SaddrZeronet { saddr, value: v },
        if v {
            Branch::martian_source
        } else {
            Branch::Next
        }
    );
    if v {
        return Label::MartianSource(SkbDropReason::IP_INVALID_SOURCE);
    }

    let v = ipv4_is_zeronet(daddr);
    step!(
        Check::DaddrZeronet { daddr, value: v },
        if v {
            Branch::martian_destination
        } else {
            Branch::Next
        }
    );
    if v {
        return Label::MartianDestination(SkbDropReason::IP_INVALID_DEST);
    }

    if ipv4_is_loopback(daddr) {
        let rl = ns.in_dev_route_localnet(idev);
        step!(
            Check::DaddrLoopback {
                daddr,
                route_localnet: rl,
                value: true
            },
            if rl {
                Branch::Next
            } else {
                Branch::martian_destination
            }
        );
        if !rl {
            return Label::MartianDestination(SkbDropReason::IP_LOCALNET);
        }
    } else if ipv4_is_loopback(saddr) {
        let rl = ns.in_dev_route_localnet(idev);
        step!(
            Check::SaddrLoopback {
                saddr,
                route_localnet: rl,
                value: true
            },
            if rl {
                Branch::Next
            } else {
                Branch::martian_source
            }
        );
        if !rl {
            return Label::MartianSource(SkbDropReason::IP_LOCALNET);
        }
    }

    let mut fl4 = Flowi4::new(daddr, saddr);
    fl4.flowi4_iif = dev;
    fl4.flowi4_mark = skb.mark;
    fl4.flowi4_dscp = dscp;
    fl4.flowi4_scope = RtScope::RT_SCOPE_UNIVERSE;
    fl4.flowi4_uid = 0;
    if ns
        .fib
        .rules
        .iter()
        .any(|r| r.ip_proto != 0 || r.sport.is_some() || r.dport.is_some())
    {
        fl4.flowi4_proto = skb.ip_protocol;
    }
    step!(
        Check::Flow {
            daddr,
            saddr,
            iif: dev,
            oif: IfIndex(0),
            mark: skb.mark,
            tos: dscp
        },
        Branch::Next
    );
    let lookup = fib_lookup(ns, &fl4, 0, t);
    step!(
        Check::FibLookup {
            result: (&lookup).into()
        },
        Branch::Next
    );
    let forward = ns.in_dev_forward(idev);
    match lookup {
        Err(err) => {
            step!(
                Check::InDevForward {
                    dev,
                    value: forward
                },
                Branch::no_route
            );
            return Label::NoRoute(if forward { err } else { Errno::EHOSTUNREACH });
        }
        Ok(r) => *res = r,
    }

    step!(
        Check::ResType {
            rt_type: res.rt_type
        },
        Branch::Next
    );
    if res.rt_type == RouteType::RTN_BROADCAST {
        let bf = ns.in_dev_bforward(idev);
        step!(
            Check::InDevBforward { dev, value: bf },
            if bf {
                Branch::make_route
            } else {
                Branch::brd_input
            }
        );
        if bf {
            return Label::MakeRoute;
        }
        if ns
            .devconf_all
            .get(crate::ipv4::devinet::DevconfKey::BC_FORWARDING)
            != 0
        {
            *do_cache = false;
        }
        return brd_input(ns, skb, idev, saddr, dscp, dev, t);
    }

    if res.rt_type == RouteType::RTN_LOCAL {
        return match fib_validate_source(ns, skb.mark, saddr, daddr, dscp, IfIndex(0), dev, idev, t)
        {
            Err(reason) => {
                step!(Check::Drop { reason }, Branch::martian_source);
                Label::MartianSource(reason)
            }
            Ok(_) => {
                step!(Check::Validated { ret: 0 }, Branch::local_input);
                Label::LocalInput
            }
        };
    }

    step!(
        Check::InDevForward {
            dev,
            value: forward
        },
        if forward {
            Branch::Next
        } else {
            Branch::no_route
        }
    );
    if !forward {
        return Label::NoRoute(Errno::EHOSTUNREACH);
    }
    if res.rt_type != RouteType::RTN_UNICAST {
        step!(
            Check::ResType {
                rt_type: res.rt_type
            },
            Branch::martian_destination
        );
        return Label::MartianDestination(SkbDropReason::IP_INVALID_DEST);
    }
    step!(
        Check::ResType {
            rt_type: res.rt_type
        },
        Branch::make_route
    );
    Label::MakeRoute
}

/// The `brd_input` label: only IPv4 may be delivered as broadcast; a
/// nonzero source must pass `fib_validate_source`.
fn brd_input<T: Tracer>(
    ns: &Netns,
    skb: &SkBuff<'_>,
    idev: &crate::ipv4::devinet::InDevice,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    t: &mut T,
) -> Label {
    let ip = skb.protocol == ETH_P_IP;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_route_input_slow,
            Check::ProtocolIp { value: ip },
            Branch::brd_input,
        ));
    }
    if !ip {
        return Label::Out(SkbDropReason::INVALID_PROTO);
    }
    if !ipv4_is_zeronet(saddr)
        && let Err(reason) = fib_validate_source(
            ns,
            skb.mark,
            saddr,
            Ipv4Addr::UNSPECIFIED,
            dscp,
            IfIndex(0),
            dev,
            idev,
            t,
        )
    {
        return Label::MartianSource(reason);
    }
    Label::BrdInput
}

/// Kernel: `ip_handle_martian_source`: counts `in_martian_src` (the log line
/// with log_martians is not modelled).
fn ip_handle_martian_source<T: Tracer>(ns: &mut Netns, t: &mut T) {
    ns.rt_cache_stat.in_martian_src += 1;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_handle_martian_source,
            Check::Counter {
                name: "in_martian_src",
            },
            Branch::martian_source,
        ));
    }
}

/// The `local_input` label: a route on the loopback device delivering
/// locally (`ip_local_deliver`), or for `no_route` an unreachable route
/// whose input is `ip_error` with `dst.error = err`. Routes from a FIB entry
/// are cached per next hop and reused while valid.
#[allow(clippy::too_many_arguments)]
fn local_input<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    res: &FibResult,
    flags: RtcFlags,
    do_cache: bool,
    err: Errno,
    dev: IfIndex,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    if ns.in_dev(dev).is_some_and(|i| ns.in_dev_nopolicy(i)) {
        skb.cb.flags.0 |= IpskbFlags::IPSKB_NOPOLICY.0;
    }
    let do_cache = do_cache && res.fi.is_some();
    if do_cache {
        let fi = res.fi.expect("checked");
        let cached = ns
            .fib
            .info(fi)
            .fib_nh
            .get(res.nh_sel)
            .and_then(|nh| nh.nh_rth_input);
        let hit = rt_cache_valid(ns, cached.as_ref());
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::rt_cache_valid,
                Check::NhCache { hit },
                if hit { Branch::cached } else { Branch::Next },
            ));
        }
        if hit {
            let mut rt = cached.expect("valid");
            rt.table = res.table;
            trace_dst_made(t, KernelFn::ip_route_input_slow, &rt);
            skb.dst = Some(rt);
            return Ok(());
        }
    }
    let mut rth = rt_dst_alloc(
        ns,
        ns.loopback_ifindex(),
        flags | RtcFlags::RTCF_LOCAL,
        res.rt_type,
        false,
    );
    rth.dst.output = dst_output_fn!(ip_rt_bug);
    rth.rt_is_input = true;
    rth.table = res.table;
    rth.dscp = res.dscp;
    ns.rt_cache_stat.in_slow_tot += 1;
    if res.rt_type == RouteType::RTN_UNREACHABLE {
        rth.dst.input = dst_input_fn!(ip_error);
        rth.dst.error = err;
        rth.rt_flags.0 &= !RtcFlags::RTCF_LOCAL.0;
    }
    if do_cache {
        let fi = res.fi.expect("checked");
        if let Some(nh) = ns.fib.info_mut(fi).fib_nh.get_mut(res.nh_sel) {
            nh.nh_rth_input = Some(rth);
        }
    }
    trace_dst_made(t, KernelFn::rt_dst_alloc, &rth);
    skb.dst = Some(rth);
    Ok(())
}

/// Kernel: `ip_mkroute_input`: picks a path of a multipath route by the
/// flow's hash, then `__mkroute_input`.
#[allow(clippy::too_many_arguments)]
pub fn ip_mkroute_input<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    res: &mut FibResult,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    t.enter(KernelFn::ip_mkroute_input);
    if let Some(fi) = res.fi {
        let fi = ns.fib.info(fi);
        if fi.num_path() > 1 {
            let h = fib_multipath_hash_skb(ns, skb, saddr, daddr);
            res.nh_sel = fib_select_multipath(fi, h);
            skb.cb.flags.0 |= IpskbFlags::IPSKB_MULTIPATH.0;
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::fib_select_multipath,
                    Check::Multipath {
                        hash: h,
                        nh_sel: res.nh_sel as u8,
                    },
                    Branch::Next,
                ));
            }
        }
    }
    let r = __mkroute_input(ns, skb, res, daddr, saddr, dscp, dev, t);
    t.leave();
    r
}

/// Kernel: `ip_multipath_l3_keys`: the addresses a multipath hash uses:
/// the packet's, or for an ICMP error those of the header it quotes.
pub fn ip_multipath_l3_keys(
    skb: &SkBuff<'_>,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
) -> (Ipv4Addr, Ipv4Addr) {
    let nh = skb.network_header as usize;
    let Some(h) = skb.data.get(nh..nh + 20) else {
        return (saddr, daddr);
    };
    let h = crate::ipv4::ip_hdr::Iphdr(h);
    if h.protocol() != 1 || h.frag_off() & crate::ipv4::ip_hdr::IP_OFFSET != 0 {
        return (saddr, daddr);
    }
    let th = nh + h.ihl() as usize * 4;
    match skb.data.get(th) {
        Some(&t) if crate::ipv4::icmp::icmp_is_error(t) => {}
        _ => return (saddr, daddr),
    }
    match skb.data.get(th + 8..th + 28) {
        Some(inner) => {
            let i = crate::ipv4::ip_hdr::Iphdr(inner);
            (i.saddr(), i.daddr())
        }
        None => (saddr, daddr),
    }
}

/// The keys the flow dissector finds in the packet (`skb_flow_dissect_flow_keys`):
/// its outer addresses, protocol, and ports where the protocol has them at
/// the start of its header (`proto_ports_offset`: TCP, UDP, UDP-Lite, DCCP,
/// SCTP, ESP; AH 4 bytes in), none for a fragment.
pub fn ip_multipath_skb_keys(
    skb: &SkBuff<'_>,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
) -> crate::ipv4::fib_semantics::MpHashKeys {
    let mut k = crate::ipv4::fib_semantics::MpHashKeys::l3(saddr, daddr);
    let nh = skb.network_header as usize;
    let Some(h) = skb.data.get(nh..nh + 20) else {
        return k;
    };
    let h = crate::ipv4::ip_hdr::Iphdr(h);
    k.ip_proto = h.protocol();
    if h.is_fragment() {
        return k;
    }
    let off = match k.ip_proto {
        6 | 17 | 136 | 33 | 132 | 50 => 0,
        51 => 4,
        _ => return k,
    };
    let th = nh + h.ihl() as usize * 4 + off;
    if let Some(p) = skb.data.get(th..th + 4) {
        k.sport = u16::from_be_bytes([p[0], p[1]]);
        k.dport = u16::from_be_bytes([p[2], p[3]]);
    }
    k
}

/// Kernel: `fib_multipath_hash` for a received packet, by
/// `fib_multipath_hash_policy`: 0 the addresses (an ICMP error's quoted
/// ones), 1 the five-tuple, 2 the (outer) addresses, 3 the fields of
/// `fib_multipath_hash_fields`; then `>> 1`.
pub fn fib_multipath_hash_skb(
    ns: &Netns,
    skb: &SkBuff<'_>,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
) -> u32 {
    use crate::ipv4::fib_semantics::{
        MpHashKeys, fib_multipath_custom_hash, flow_hash_from_keys_seed,
    };
    let seed = ns.sysctl.fib_multipath_hash_seed as u32;
    let h = match ns.sysctl.fib_multipath_hash_policy {
        1 => flow_hash_from_keys_seed(seed, ip_multipath_skb_keys(skb, saddr, daddr)),
        2 => {
            let k = ip_multipath_skb_keys(skb, saddr, daddr);
            flow_hash_from_keys_seed(seed, MpHashKeys::l3(k.saddr, k.daddr))
        }
        3 => fib_multipath_custom_hash(
            seed,
            ns.sysctl.fib_multipath_hash_fields as u32,
            ip_multipath_skb_keys(skb, saddr, daddr),
        ),
        _ => {
            let (hs, hd) = ip_multipath_l3_keys(skb, saddr, daddr);
            flow_hash_from_keys_seed(seed, MpHashKeys::l3(hs, hd))
        }
    };
    h >> 1
}

/// Kernel: `__mkroute_input`: validates the source against the route's
/// output device (rp_filter, local sources), flags a redirect when the
/// packet would leave where it came from toward an on-link source, and makes
/// (or reuses the next hop's cached) route whose input is `ip_forward`.
#[allow(clippy::too_many_arguments)]
pub fn __mkroute_input<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    res: &FibResult,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    t.enter(KernelFn::__mkroute_input);
    let r = mkroute_inner(ns, skb, res, daddr, saddr, dscp, dev, t);
    t.leave();
    r
}

#[allow(clippy::too_many_arguments)]
fn mkroute_inner<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    res: &FibResult,
    daddr: Ipv4Addr,
    saddr: Ipv4Addr,
    dscp: u8,
    dev: IfIndex,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let Some(fi_id) = res.fi else {
        return Err(SkbDropReason::NOT_SPECIFIED);
    };
    let (out_ifindex, gw, nh_scope, fib_mtu, fib_mtu_locked, prefsrc) = {
        let fi = ns.fib.info(fi_id);
        let nh = &fi.fib_nh[res.nh_sel];
        (
            nh.nh_dev,
            nh.nh_gw,
            nh.nh_scope,
            fi.fib_mtu,
            fi.fib_mtu_locked,
            fi.fib_prefsrc,
        )
    };
    let Some(_out_dev) = ns.in_dev(out_ifindex) else {
        return Err(SkbDropReason::NOT_SPECIFIED);
    };
    let idev = ns.in_dev(dev).expect("the input device has IPv4 state");
    let onlink =
        match fib_validate_source(ns, skb.mark, saddr, daddr, dscp, out_ifindex, dev, idev, t) {
            Ok(v) => v,
            Err(reason) => {
                ip_handle_martian_source(ns, t);
                if T::ENABLED {
                    t.step(Step::new(
                        KernelFn::__mkroute_input,
                        Check::Drop { reason },
                        Branch::out,
                    ));
                }
                return Err(reason);
            }
        };
    let idev = ns.in_dev(dev).expect("the input device has IPv4 state");
    let out_dev = ns.in_dev(out_ifindex).expect("checked above");
    let do_cache = true; // res.fi is set and realms are not modelled (itag 0)
    if out_ifindex == dev && onlink && ns.in_dev_tx_redirects(out_dev) && skb.protocol == ETH_P_IP {
        let gw4 = gw.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let redirect = ns.in_dev_shared_media(out_dev) || out_dev.inet_addr_onlink(saddr, gw4);
        if redirect {
            skb.cb.flags.0 |= IpskbFlags::IPSKB_DOREDIRECT.0;
        }
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::__mkroute_input,
                Check::DoRedirect { value: redirect },
                Branch::Next,
            ));
        }
    }
    if skb.protocol != ETH_P_IP && out_ifindex == dev && !ns.in_dev_proxy_arp_pvlan(idev) {
        return Err(SkbDropReason::ARP_PVLAN_DISABLE);
    }
    if ns.in_dev_nopolicy(idev) {
        skb.cb.flags.0 |= IpskbFlags::IPSKB_NOPOLICY.0;
    }
    let noxfrm = ns.in_dev_noxfrm(out_dev);
    let fnhe = find_exception(ns, fi_id, res.nh_sel, daddr);
    if do_cache {
        let cached = match fnhe {
            Some(i) => ns.fnhe[i].rth_input,
            None => ns.fib.info(fi_id).fib_nh[res.nh_sel].nh_rth_input,
        };
        let hit = rt_cache_valid(ns, cached.as_ref());
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::rt_cache_valid,
                Check::NhCache { hit },
                if hit { Branch::cached } else { Branch::Next },
            ));
        }
        if hit {
            let mut rt = cached.expect("valid");
            rt.table = res.table;
            rt.dscp = res.dscp;
            trace_dst_made(t, KernelFn::__mkroute_input, &rt);
            skb.dst = Some(rt);
            return Ok(());
        }
    }
    let mut rth = rt_dst_alloc(ns, out_ifindex, RtcFlags(0), res.rt_type, noxfrm);
    rth.rt_is_input = true;
    ns.rt_cache_stat.in_slow_tot += 1;
    rth.dst.input = dst_input_fn!(ip_forward);
    // rt_set_nexthop
    if let Some(g) = gw
        && nh_scope == RtScope::RT_SCOPE_LINK
    {
        rth.rt_uses_gateway = true;
        rth.rt_gw4 = g;
    }
    rth.mtu_metric = fib_mtu;
    rth.rt_mtu_locked = fib_mtu_locked;
    rth.table = res.table;
    rth.dscp = res.dscp;
    rth.prefsrc = prefsrc;
    if let Some(i) = fnhe {
        rt_bind_exception(ns, i, &mut rth);
    }
    if do_cache {
        match fnhe {
            Some(i) => ns.fnhe[i].rth_input = Some(rth),
            None => ns.fib.info_mut(fi_id).fib_nh[res.nh_sel].nh_rth_input = Some(rth),
        }
    }
    trace_dst_made(t, KernelFn::rt_dst_alloc, &rth);
    skb.dst = Some(rth);
    Ok(())
}

/// What `ip_error` decides for an unreachable route: the drop reason, the
/// Ip counter it bumps, and the ICMP destination-unreachable code it sends
/// (none with forwarding off on the input device, or for `EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpErrorVerdict {
    /// The reason the packet is freed with.
    pub reason: SkbDropReason,
    /// The ICMP code (type 3), if one is sent.
    pub icmp_code: Option<u8>,
}

/// `ICMP_NET_UNREACH`.
pub const ICMP_NET_UNREACH: u8 = 0;
/// `ICMP_HOST_UNREACH`.
pub const ICMP_HOST_UNREACH: u8 = 1;
/// `ICMP_PKT_FILTERED`.
pub const ICMP_PKT_FILTERED: u8 = 13;

/// Kernel: the decision part of `ip_error`: with forwarding off on the
/// input device no ICMP is sent, and EHOSTUNREACH counts `InAddrErrors`
/// (`IP_INADDRERRORS`), ENETUNREACH `InNoRoutes`; with forwarding on,
/// EHOSTUNREACH → 3/1, ENETUNREACH → 3/0 (`IP_INNOROUTES`), EACCES → 3/13,
/// anything else nothing. The per-source rate limit is applied by the caller.
pub fn ip_error_verdict(forwarding: Option<bool>, error: Errno) -> IpErrorVerdict {
    let Some(forwarding) = forwarding else {
        return IpErrorVerdict {
            reason: SkbDropReason::NOT_SPECIFIED,
            icmp_code: None,
        };
    };
    if !forwarding {
        let reason = match error {
            Errno::EHOSTUNREACH => SkbDropReason::IP_INADDRERRORS,
            Errno::ENETUNREACH => SkbDropReason::IP_INNOROUTES,
            _ => SkbDropReason::NOT_SPECIFIED,
        };
        return IpErrorVerdict {
            reason,
            icmp_code: None,
        };
    }
    match error {
        Errno::EHOSTUNREACH => IpErrorVerdict {
            reason: SkbDropReason::NOT_SPECIFIED,
            icmp_code: Some(ICMP_HOST_UNREACH),
        },
        Errno::ENETUNREACH => IpErrorVerdict {
            reason: SkbDropReason::IP_INNOROUTES,
            icmp_code: Some(ICMP_NET_UNREACH),
        },
        Errno::EACCES => IpErrorVerdict {
            reason: SkbDropReason::NOT_SPECIFIED,
            icmp_code: Some(ICMP_PKT_FILTERED),
        },
        _ => IpErrorVerdict {
            reason: SkbDropReason::NOT_SPECIFIED,
            icmp_code: None,
        },
    }
}

/// Kernel: `ip_error`: the input handler of an unreachable route. Counts,
/// chooses the ICMP error and always drops.
pub fn ip_error<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    t.enter(KernelFn::ip_error);
    let error = skb.dst.map(|d| d.dst.error).unwrap_or(Errno(0));
    let forwarding = ns.in_dev(skb.dev).map(|i| ns.in_dev_forward(i));
    let v = ip_error_verdict(forwarding, error);
    match v.reason {
        SkbDropReason::IP_INADDRERRORS => ns.mib.ip.InAddrErrors += 1,
        SkbDropReason::IP_INNOROUTES => ns.mib.ip_ext.InNoRoutes += 1,
        _ => {}
    }
    if let Some(code) = v.icmp_code {
        // The per-source bucket of ip_error: error_cost per message, up to error_burst.
        let now = ns.jiffies;
        let (burst, cost) = (
            ns.sysctl.route_error_burst.max(0) as u64,
            ns.sysctl.route_error_cost.max(0) as u64,
        );
        let src = skb.ip_saddr().unwrap_or(Ipv4Addr::UNSPECIFIED);
        let send = {
            let p = ns.peers.get(src, now);
            p.rate_tokens = (p.rate_tokens + now.wrapping_sub(p.rate_last)).min(burst);
            p.rate_last = now;
            if p.rate_tokens >= cost {
                p.rate_tokens -= cost;
                true
            } else {
                false
            }
        };
        if send {
            crate::ipv4::icmp::icmp_send(ns, skb, crate::ipv4::icmp::ICMP_DEST_UNREACH, code, 0, t);
        }
    }
    skb.drop_reason = v.reason;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_error,
            Check::IpError {
                error,
                forwarding: forwarding.unwrap_or(false),
                icmp_code: v.icmp_code.unwrap_or(255),
            },
            Branch::Next,
        ));
        t.step(Step::new(
            KernelFn::ip_error,
            Check::Drop { reason: v.reason },
            Branch::out,
        ));
    }
    t.leave();
    NetRx::Drop
}

/// `ICMP_REDIR_HOST`.
pub const ICMP_REDIR_HOST: u8 = 1;

/// Kernel: `ip_rt_send_redirect`: an ICMP host redirect to the packet's
/// source, with the per-peer back-off (`redirect_load << n_redirects`, at
/// most `redirect_number`, reset after `redirect_silence`).
pub fn ip_rt_send_redirect<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) {
    let Some(rt) = skb.dst else { return };
    if !ns
        .in_dev(rt.dst.dev)
        .is_some_and(|i| ns.in_dev_tx_redirects(i))
    {
        return;
    }
    let nh = skb.network_header as usize;
    let h = crate::ipv4::ip_hdr::Iphdr(&skb.data[nh..]);
    let (saddr, daddr) = (h.saddr(), h.daddr());
    let gw = if rt.rt_uses_gateway { rt.rt_gw4 } else { daddr };
    let now = ns.jiffies;
    let (silence, number, load) = (
        ns.sysctl.route_redirect_silence.max(0) as u64,
        ns.sysctl.route_redirect_number.max(0) as u32,
        ns.sysctl.route_redirect_load.max(0) as u64,
    );
    let send = {
        let p = ns.peers.get(saddr, now);
        if now > p.rate_last.wrapping_add(silence) {
            p.rate_tokens = 0;
            p.n_redirects = 0;
        }
        if p.n_redirects >= number {
            p.rate_last = now;
            false
        } else if p.n_redirects == 0
            || now > p.rate_last.wrapping_add(load << p.n_redirects.min(63))
        {
            // rate_last and n_redirects move on after icmp_send (below), so
            // the ICMP rate limit sees the time since the peer's last use.
            true
        } else {
            false
        }
    };
    if send {
        crate::ipv4::icmp::icmp_send(
            ns,
            skb,
            crate::ipv4::icmp::ICMP_REDIRECT,
            ICMP_REDIR_HOST,
            u32::from(gw),
            t,
        );
        let p = ns.peers.get(saddr, now);
        p.rate_last = now;
        p.n_redirects += 1;
    }
}

/// Kernel: `struct fib_nh_exception`: what one next hop learned about one
/// destination; here the gateway an ICMP redirect named, until `expires`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FibNhException {
    /// The route's fib_info.
    pub fi: crate::ipv4::fib_semantics::FibInfoId,
    /// The next hop in it.
    pub nh_sel: usize,
    /// `fnhe_daddr`.
    pub daddr: Ipv4Addr,
    /// `fnhe_gw`: the redirect's new gateway (unspecified: forgotten).
    pub gw: Ipv4Addr,
    /// `fnhe_genid`: a route change since makes it forget the gateway.
    pub genid: u32,
    /// `fnhe_expires` (jiffies).
    pub expires: u64,
    /// `fnhe_rth_input`: the input route cached on it.
    pub rth_input: Option<Rtable>,
}

/// Kernel: `find_exception`: the live exception of next hop
/// (`fi`, `nh_sel`) for `daddr`; an expired one is deleted.
pub fn find_exception(
    ns: &mut Netns,
    fi: crate::ipv4::fib_semantics::FibInfoId,
    nh_sel: usize,
    daddr: Ipv4Addr,
) -> Option<usize> {
    let i = ns
        .fnhe
        .iter()
        .position(|e| e.fi == fi && e.nh_sel == nh_sel && e.daddr == daddr)?;
    let e = ns.fnhe[i];
    if e.expires != 0 && ns.jiffies > e.expires {
        ns.fnhe.remove(i);
        return None;
    }
    Some(i)
}

/// Kernel: `rt_bind_exception` → `fill_route_from_fnhe`: a route through
/// exception `i` goes by its gateway (`RTCF_REDIRECTED`); one made before
/// the routes last changed has forgotten it.
pub fn rt_bind_exception(ns: &mut Netns, i: usize, rt: &mut Rtable) {
    let genid = ns.rt_genid;
    let e = &mut ns.fnhe[i];
    if e.genid != genid {
        e.genid = genid;
        e.gw = Ipv4Addr::UNSPECIFIED;
        e.expires = 0;
        e.rth_input = None;
    }
    if !e.gw.is_unspecified() {
        rt.rt_flags.0 |= RtcFlags::RTCF_REDIRECTED.0;
        rt.rt_uses_gateway = true;
        rt.rt_gw4 = e.gw;
    }
}

/// Kernel: `update_or_create_fnhe` for a redirect: next hop (`fi`,
/// `nh_sel`) goes to `daddr` by `gw` until `expires`. A new exception makes
/// the next hop's cached input route stale.
pub fn update_or_create_fnhe(
    ns: &mut Netns,
    fi: crate::ipv4::fib_semantics::FibInfoId,
    nh_sel: usize,
    daddr: Ipv4Addr,
    gw: Ipv4Addr,
    expires: u64,
) {
    let genid = ns.rt_genid;
    if let Some(e) = ns
        .fnhe
        .iter_mut()
        .find(|e| e.fi == fi && e.nh_sel == nh_sel && e.daddr == daddr)
    {
        e.gw = gw;
        e.expires = expires.max(1);
        e.rth_input = None;
        return;
    }
    ns.fnhe.push(FibNhException {
        fi,
        nh_sel,
        daddr,
        gw,
        genid,
        expires: expires.max(1),
        rth_input: None,
    });
    if let Some(nh) = ns.fib.info_mut(fi).fib_nh.get_mut(nh_sel) {
        nh.nh_rth_input = None;
    }
}

/// What an ICMP redirect's receiver did with it ([`__ip_do_redirect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectOutcome {
    /// Not a redirect this host takes (its code, its route does not go by
    /// the sender, `accept_redirects`, a bad or non-unicast new gateway).
    Rejected,
    /// The new gateway's address is not known yet: ARP asks for it; the
    /// route stays (a later redirect, once it is known, changes it).
    Resolving,
    /// The destination now goes by the new gateway (a next-hop exception
    /// for `route.gc_timeout`).
    Learned,
}

/// Kernel: `__ip_do_redirect` for a redirect received on `dev` from
/// `old_gw` naming `new_gw` (`code`), about the flow `saddr` → `daddr`
/// (`proto`, `oif`: the socket's, `ipv4_sk_redirect`/`ip_do_redirect`):
/// the flow's output route must go by `old_gw`; the device must accept
/// redirects (`IN_DEV_RX_REDIRECTS`); the new gateway must be a unicast
/// address, on the link unless `shared_media` (and, with
/// `secure_redirects`, a default gateway); then its neighbour is resolved,
/// or, when it already is, a next-hop exception sends `daddr` by it.
#[allow(clippy::too_many_arguments)]
pub fn __ip_do_redirect<T: Tracer>(
    ns: &mut Netns,
    dev: IfIndex,
    old_gw: Ipv4Addr,
    new_gw: Ipv4Addr,
    code: u8,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    proto: u8,
    oif: IfIndex,
    t: &mut T,
) -> RedirectOutcome {
    // ICMP_REDIR_NET, _HOST, _NETTOS, _HOSTTOS.
    if code & 7 > 3 {
        return RedirectOutcome::Rejected;
    }
    let mut fl4 = Flowi4::new(daddr, saddr);
    fl4.flowi4_oif = oif;
    fl4.flowi4_proto = proto;
    let mut res = FibResult::empty();
    let Ok(rt) = crate::ipv4::route_output::ip_route_output_key_hash_rcu(
        ns,
        &mut fl4,
        &mut res,
        &mut crate::trace::NoTrace,
    ) else {
        return RedirectOutcome::Rejected;
    };
    if !rt.rt_uses_gateway || rt.rt_gw4 != old_gw {
        return RedirectOutcome::Rejected;
    }
    let Some(idev) = ns.in_dev(dev) else {
        return RedirectOutcome::Rejected;
    };
    let rx = if ns.in_dev_forward(idev) {
        ns.conf_all(crate::ipv4::devinet::DevconfKey::ACCEPT_REDIRECTS) != 0
            && idev
                .cnf
                .get(crate::ipv4::devinet::DevconfKey::ACCEPT_REDIRECTS)
                != 0
    } else {
        ns.or_conf(idev, crate::ipv4::devinet::DevconfKey::ACCEPT_REDIRECTS)
    };
    let bad = new_gw == old_gw
        || !rx
        || new_gw.is_multicast()
        || new_gw.is_broadcast()
        || new_gw.octets()[0] == 0;
    let ok = !bad
        && if ns.in_dev_shared_media(idev) {
            crate::ipv4::fib_frontend::inet_addr_type_table(ns, new_gw, 255)
                == RouteType::RTN_UNICAST
        } else {
            idev.inet_addr_onlink(new_gw, old_gw)
                && (!ns.or_conf(idev, crate::ipv4::devinet::DevconfKey::SECURE_REDIRECTS)
                    || ip_fib_check_default(ns, new_gw, dev))
        };
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::__ip_do_redirect,
            Check::Redirect {
                old_gw,
                new_gw,
                daddr,
                accepted: ok,
            },
            if ok {
                Branch::Next
            } else {
                Branch::reject_redirect
            },
        ));
    }
    if !ok {
        return RedirectOutcome::Rejected;
    }
    let out = rt.dst.dev;
    let valid = ns
        .neigh
        .iter()
        .any(|n| n.dev == out && n.ip == new_gw && n.state.is_valid());
    if !valid {
        crate::core::neighbour::neigh_event_send_nopkt(ns, out, new_gw, t);
        return RedirectOutcome::Resolving;
    }
    let Some(fi) = res.fi else {
        return RedirectOutcome::Rejected;
    };
    let expires = ns.jiffies + ns.sysctl.route_gc_timeout.max(0) as u64 * crate::HZ;
    update_or_create_fnhe(ns, fi, res.nh_sel, daddr, new_gw, expires);
    RedirectOutcome::Learned
}

/// Kernel: `ip_fib_check_default` == 0: some next hop of the FIB goes
/// through `dev` by gateway `gw`.
fn ip_fib_check_default(ns: &Netns, gw: Ipv4Addr, dev: IfIndex) -> bool {
    ns.fib.infos.iter().any(|fi| {
        fi.fib_nh
            .iter()
            .any(|nh| nh.nh_dev == dev && nh.nh_gw == Some(gw))
    })
}
