//! Models the output route decision of net/ipv4/route.c for packets the host
//! itself sends: `ip_route_output_key_hash_rcu` (source checks, `oif`,
//! `fib_lookup`, local delivery over loopback, `fib_select_path` with
//! source address selection) and `__mkroute_output`. `ip route get`
//! without `iif` answers from here.

use std::net::Ipv4Addr;

use crate::core::dst::Rtable;
use crate::flow::{FibResult, Flowi4};
use crate::ipv4::devinet::inet_select_addr;
use crate::ipv4::fib_rules::fib_lookup;
use crate::ipv4::fib_trie::fib_table_lookup;
use crate::ipv4::route::{
    IPPROTO_IGMP, ipv4_is_lbcast, ipv4_is_local_multicast, ipv4_is_loopback, ipv4_is_multicast,
    ipv4_is_zeronet, rt_dst_alloc,
};
use crate::ipv4::rtnetlink::{RTM_F_CLONED, RouteGetError, RouteGetReply, RouteGetRequest};
use crate::netns::{IfIndex, LOOPBACK_IFINDEX, Netns, rt_table};
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};
use crate::uapi::{DevFlags, Errno, RouteType, RtScope, RtcFlags};

/// Kernel: `__ip_dev_find(net, addr, false)`: the device holding `addr` as
/// one of its addresses, or through a `local` route of table local.
pub fn ip_dev_find(ns: &Netns, addr: Ipv4Addr) -> Option<IfIndex> {
    if let Some(d) = ns.inet_lookup_ifaddr(addr) {
        return Some(d);
    }
    let fl4 = Flowi4::new(addr, Ipv4Addr::UNSPECIFIED);
    // Table local shares main's trie while the namespace has no custom rules,
    // so this lookup then sees main's routes too.
    let merged = [rt_table::RT_TABLE_LOCAL, rt_table::RT_TABLE_MAIN];
    let tables: &[u32] = if ns.fib.has_custom_rules {
        &merged[..1]
    } else {
        &merged
    };
    match fib_table_lookup(ns, tables, rt_table::RT_TABLE_LOCAL, &fl4, 0) {
        Ok(res) if res.rt_type == RouteType::RTN_LOCAL => res
            .fi
            .and_then(|fi| ns.fib.info(fi).fib_nh.get(res.nh_sel))
            .map(|nh| nh.nh_dev),
        _ => None,
    }
}

/// Kernel: `ip_route_output_key_hash_rcu`: the route of a packet the host
/// sends with flow `fl4` (whose `saddr` is filled in when it was 0).
pub fn ip_route_output_key_hash_rcu<T: Tracer>(
    ns: &mut Netns,
    fl4: &mut Flowi4,
    res: &mut FibResult,
    t: &mut T,
) -> Result<Rtable, Errno> {
    t.enter(KernelFn::ip_route_output_slow);
    let r = output_inner(ns, fl4, res, t);
    if T::ENABLED {
        match &r {
            Ok(rt) => {
                t.step(Step::new(
                    KernelFn::ip_route_output_slow,
                    Check::SourceAddress { saddr: fl4.saddr },
                    Branch::Next,
                ));
                t.step(Step::new(
                    KernelFn::__mkroute_output,
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
            Err(e) => t.step(Step::new(
                KernelFn::ip_route_output_slow,
                Check::FibLookup {
                    result: crate::trace::LookupOutcome::Error(*e),
                },
                Branch::out,
            )),
        }
    }
    t.leave();
    r
}

fn output_inner<T: Tracer>(
    ns: &mut Netns,
    fl4: &mut Flowi4,
    res: &mut FibResult,
    t: &mut T,
) -> Result<Rtable, Errno> {
    let mut orig_oif = fl4.flowi4_oif;
    let mut flags = RtcFlags(0);
    let mut dev_out: Option<IfIndex> = None;

    if !fl4.saddr.is_unspecified() {
        if ipv4_is_multicast(fl4.saddr) || ipv4_is_lbcast(fl4.saddr) || ipv4_is_zeronet(fl4.saddr) {
            return Err(Errno::EINVAL);
        }
        if fl4.flowi4_oif.0 == 0 && (ipv4_is_multicast(fl4.daddr) || ipv4_is_lbcast(fl4.daddr)) {
            let d = ip_dev_find(ns, fl4.saddr).ok_or(Errno::ENETUNREACH)?;
            fl4.flowi4_oif = d;
            return mkroute_output(ns, fl4, res, orig_oif, d, flags);
        }
        if ip_dev_find(ns, fl4.saddr).is_none() {
            return Err(Errno::ENETUNREACH);
        }
    }

    if fl4.flowi4_oif.0 != 0 {
        let oif = fl4.flowi4_oif;
        let d = ns.dev(oif).ok_or(Errno::ENODEV)?;
        if !d.is_up() || d.ip_ptr.is_none() {
            return Err(Errno::ENETUNREACH);
        }
        dev_out = Some(oif);
        if ipv4_is_local_multicast(fl4.daddr)
            || ipv4_is_lbcast(fl4.daddr)
            || fl4.flowi4_proto == IPPROTO_IGMP
        {
            if fl4.saddr.is_unspecified() {
                fl4.saddr =
                    inet_select_addr(ns, oif, Ipv4Addr::UNSPECIFIED, RtScope::RT_SCOPE_LINK);
            }
            return mkroute_output(ns, fl4, res, orig_oif, oif, flags);
        }
        if fl4.saddr.is_unspecified() {
            if ipv4_is_multicast(fl4.daddr) {
                fl4.saddr = inet_select_addr(ns, oif, Ipv4Addr::UNSPECIFIED, fl4.flowi4_scope);
            } else if fl4.daddr.is_unspecified() {
                fl4.saddr =
                    inet_select_addr(ns, oif, Ipv4Addr::UNSPECIFIED, RtScope::RT_SCOPE_HOST);
            }
        }
    }

    if fl4.daddr.is_unspecified() {
        fl4.daddr = fl4.saddr;
        if fl4.daddr.is_unspecified() {
            fl4.daddr = Ipv4Addr::LOCALHOST;
            fl4.saddr = Ipv4Addr::LOCALHOST;
        }
        let lo = ns.loopback_ifindex();
        fl4.flowi4_oif = LOOPBACK_IFINDEX;
        res.rt_type = RouteType::RTN_LOCAL;
        flags |= RtcFlags::RTCF_LOCAL;
        return mkroute_output(ns, fl4, res, orig_oif, lo, flags);
    }

    match fib_lookup(ns, fl4, 0, t) {
        Err(err) => {
            res.fi = None;
            res.table = 0;
            if let (true, Some(d)) = (fl4.flowi4_oif.0 != 0, dev_out) {
                if fl4.saddr.is_unspecified() {
                    fl4.saddr =
                        inet_select_addr(ns, d, Ipv4Addr::UNSPECIFIED, RtScope::RT_SCOPE_LINK);
                }
                res.rt_type = RouteType::RTN_UNICAST;
                return mkroute_output(ns, fl4, res, orig_oif, d, flags);
            }
            Err(err)
        }
        Ok(r) => {
            *res = r;
            if res.rt_type == RouteType::RTN_LOCAL {
                let fi = res.fi.map(|id| ns.fib.info(id));
                if fl4.saddr.is_unspecified() {
                    fl4.saddr = fi.and_then(|fi| fi.fib_prefsrc).unwrap_or(fl4.daddr);
                }
                orig_oif = fi
                    .and_then(|fi| fi.fib_nh.get(res.nh_sel))
                    .map(|nh| nh.nh_dev)
                    .unwrap_or(IfIndex(0));
                let lo = ns.loopback_ifindex();
                fl4.flowi4_oif = lo;
                flags |= RtcFlags::RTCF_LOCAL;
                return mkroute_output(ns, fl4, res, orig_oif, lo, flags);
            }
            fib_select_path(ns, res, fl4, t);
            let d = res
                .fi
                .and_then(|fi| ns.fib.info(fi).fib_nh.get(res.nh_sel))
                .map(|nh| nh.nh_dev)
                .ok_or(Errno::EINVAL)?;
            mkroute_output(ns, fl4, res, orig_oif, d, flags)
        }
    }
}

/// Kernel: `fib_multipath_hash` for a flow the host sends (no skb), by
/// `fib_multipath_hash_policy`: 0 and 2 the addresses, 1 the five-tuple of
/// the flow (`flowi4_proto`, `fl4_sport`, `fl4_dport`), 3 the fields of
/// `fib_multipath_hash_fields`; then `>> 1`.
pub fn fib_multipath_hash_fl4(ns: &Netns, fl4: &Flowi4) -> u32 {
    use crate::ipv4::fib_semantics::{
        MpHashKeys, fib_multipath_custom_hash, flow_hash_from_keys_seed,
    };
    let seed = ns.sysctl.fib_multipath_hash_seed as u32;
    let five = MpHashKeys {
        saddr: fl4.saddr,
        daddr: fl4.daddr,
        ip_proto: fl4.flowi4_proto,
        sport: fl4.fl4_sport,
        dport: fl4.fl4_dport,
    };
    let h = match ns.sysctl.fib_multipath_hash_policy {
        1 => flow_hash_from_keys_seed(seed, five),
        3 => fib_multipath_custom_hash(seed, ns.sysctl.fib_multipath_hash_fields as u32, five),
        _ => flow_hash_from_keys_seed(seed, MpHashKeys::l3(fl4.saddr, fl4.daddr)),
    };
    h >> 1
}

/// Kernel: `fib_select_path`: a path of a multipath route by the flow's
/// hash (unless `oif` fixed it), and the source address: the route's
/// `src`, else the next hop's preferred source (`fib_result_prefsrc`).
pub fn fib_select_path<T: Tracer>(ns: &Netns, res: &mut FibResult, fl4: &mut Flowi4, t: &mut T) {
    let Some(fi_id) = res.fi else { return };
    let fi = ns.fib.info(fi_id);
    if fl4.flowi4_oif.0 == 0 && fi.num_path() > 1 {
        let h = fib_multipath_hash_fl4(ns, fl4);
        res.nh_sel = crate::ipv4::fib_semantics::fib_select_multipath_saddr(fi, h, fl4.saddr);
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::fib_select_path,
                Check::Multipath {
                    hash: h,
                    nh_sel: res.nh_sel as u8,
                },
                Branch::Next,
            ));
        }
    }
    if fl4.saddr.is_unspecified() {
        fl4.saddr = match fi.fib_prefsrc {
            Some(p) => p,
            None => {
                let nh = &fi.fib_nh[res.nh_sel];
                inet_select_addr(
                    ns,
                    nh.nh_dev,
                    nh.nh_gw.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    fi.fib_scope,
                )
            }
        };
    }
}

/// Kernel: `__mkroute_output`: the output route on `dev_out`, typed
/// broadcast for 255.255.255.255 and multicast for 224/4.
fn mkroute_output(
    ns: &mut Netns,
    fl4: &Flowi4,
    res: &FibResult,
    orig_oif: IfIndex,
    dev_out: IfIndex,
    mut flags: RtcFlags,
) -> Result<Rtable, Errno> {
    let d = ns.dev(dev_out).ok_or(Errno::EINVAL)?;
    let is_lo = d.flags.contains(DevFlags::IFF_LOOPBACK);
    let idev = d.ip_ptr.as_ref().ok_or(Errno::EINVAL)?;
    if !ns.in_dev_route_localnet(idev) && ipv4_is_loopback(fl4.saddr) && !is_lo {
        return Err(Errno::EINVAL);
    }
    let mut fi = res.fi;
    let mut rt_type = res.rt_type;
    if ipv4_is_lbcast(fl4.daddr) {
        rt_type = RouteType::RTN_BROADCAST;
        fi = None;
    } else if ipv4_is_multicast(fl4.daddr) {
        rt_type = RouteType::RTN_MULTICAST;
    } else if ipv4_is_zeronet(fl4.daddr) {
        return Err(Errno::EINVAL);
    }
    if is_lo {
        flags |= RtcFlags::RTCF_LOCAL;
    }
    if rt_type == RouteType::RTN_BROADCAST {
        flags |= RtcFlags::RTCF_BROADCAST | RtcFlags::RTCF_LOCAL;
    } else if rt_type == RouteType::RTN_MULTICAST {
        flags |= RtcFlags::RTCF_MULTICAST | RtcFlags::RTCF_LOCAL;
        if !idev.mc_list.contains(&fl4.daddr) {
            flags.0 &= !RtcFlags::RTCF_LOCAL.0;
        }
        if fi.is_some() && res.prefixlen < 4 {
            fi = None;
        }
    }
    let noxfrm = ns.in_dev_noxfrm(idev);
    let mut rth = rt_dst_alloc(ns, dev_out, flags, rt_type, noxfrm);
    rth.rt_iif = orig_oif;
    ns.rt_cache_stat.out_slow_tot += 1;
    if flags.0 & (RtcFlags::RTCF_BROADCAST.0 | RtcFlags::RTCF_MULTICAST.0) != 0
        && flags.contains(RtcFlags::RTCF_LOCAL)
        && !is_lo
    {
        ns.rt_cache_stat.out_slow_mc += 1;
    }
    if let Some(fi) = fi {
        let fi = ns.fib.info(fi);
        if let Some(nh) = fi.fib_nh.get(res.nh_sel)
            && let Some(g) = nh.nh_gw
            && nh.nh_scope == RtScope::RT_SCOPE_LINK
        {
            rth.rt_uses_gateway = true;
            rth.rt_gw4 = g;
        }
        rth.mtu_metric = fi.fib_mtu;
        rth.rt_mtu_locked = fi.fib_mtu_locked;
        if let Some(fid) = res.fi
            && let Some(i) = crate::ipv4::route::find_exception(ns, fid, res.nh_sel, fl4.daddr)
        {
            crate::ipv4::route::rt_bind_exception(ns, i, &mut rth);
        }
    }
    rth.table = res.table;
    rth.dscp = res.dscp;
    Ok(rth)
}

/// `ip route get` without `iif`: the output path, answered as
/// `inet_rtm_getroute` → `rt_fill_info` does (with `src` when the kernel
/// chose the source, and `uid 0`).
pub fn getroute_output<T: Tracer>(
    ns: &mut Netns,
    req: &RouteGetRequest,
    t: &mut T,
) -> Result<RouteGetReply, RouteGetError> {
    let mut fl4 = Flowi4::new(req.dst, req.src);
    fl4.flowi4_oif = req.oif.unwrap_or(IfIndex(0));
    fl4.flowi4_iif = LOOPBACK_IFINDEX;
    fl4.flowi4_mark = req.mark;
    fl4.flowi4_dscp = req.tos & 0xfc;
    fl4.flowi4_proto = req.ip_proto;
    fl4.fl4_sport = req.sport;
    fl4.fl4_dport = req.dport;
    let mut res = FibResult::empty();
    let rt =
        ip_route_output_key_hash_rcu(ns, &mut fl4, &mut res, t).map_err(|errno| RouteGetError {
            errno,
            drop_reason: None,
        })?;
    Ok(RouteGetReply {
        rt_type: rt.rt_type,
        dst: req.dst,
        src: (!req.src.is_unspecified()).then_some(req.src),
        tos: res.dscp,
        gateway: rt.rt_uses_gateway.then_some(rt.rt_gw4),
        dev: rt.dst.dev,
        table: res.table,
        rtm_flags: (rt.rt_flags.0 & !0xffff) | RTM_F_CLONED,
        prefsrc: (fl4.saddr != req.src).then_some(fl4.saddr),
        mark: req.mark,
        uid: Some(0),
        iif: None,
        mtu: (rt.mtu_metric != 0).then_some(rt.mtu_metric),
    })
}
