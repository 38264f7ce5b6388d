//! Models net/ipv4/fib_frontend.c: the routes the kernel adds for an address
//! (`fib_add_ifaddr`) and the source address check of the input path
//! (`fib_validate_source`, `__fib_validate_source`).

use std::net::Ipv4Addr;

use crate::core::dropreason::SkbDropReason;
use crate::flow::{FIB_LOOKUP_IGNORE_LINKSTATE, Flowi4};
use crate::ipv4::devinet::{InDevice, InIfaddr};
use crate::ipv4::fib_rules::fib_lookup;
use crate::netns::{IfIndex, LOOPBACK_IFINDEX, Netns, NexthopSpec, RouteSpec, rt_table};
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};
use crate::uapi::{RouteType, RtProt, RtScope, RtnhFlags};

/// Kernel: `fib_add_ifaddr`: for an address A/len on a device, `local A`
/// (always); and if the device is up: `broadcast` for an explicitly assigned
/// broadcast address, the prefix route (`local` on loopback) unless the
/// address is secondary, a /32 or in 0.0.0.0/len, and the subnet broadcast
/// for prefixes shorter than /31. Routes of a secondary carry the primary's
/// address as `src`, and are left out when that address does not look up
/// as `local` (`fib_valid_prefsrc`: another device's broadcast route for it
/// came first).
pub fn fib_add_ifaddr(ns: &mut Netns, dev: IfIndex, ifa: &InIfaddr) {
    let Some(d) = ns.dev(dev) else { return };
    let up = d.is_up();
    let loopback = d.is_loopback();
    let prim_local = if ifa.is_secondary() {
        match d.ip_ptr.as_ref().and_then(|i| {
            i.ifa_list.iter().find(|p| {
                !p.is_secondary()
                    && p.ifa_prefixlen == ifa.ifa_prefixlen
                    && p.matches(ifa.ifa_address)
            })
        }) {
            Some(p) => p.ifa_local,
            None => return,
        }
    } else {
        ifa.ifa_local
    };
    let magic = |ns: &mut Netns, rt_type: RouteType, dst: Ipv4Addr, len: u8, priority: u32| {
        let mut spec = RouteSpec::new(rt_type, dst, len);
        spec.table = if rt_type == RouteType::RTN_UNICAST {
            rt_table::RT_TABLE_MAIN
        } else {
            rt_table::RT_TABLE_LOCAL
        };
        spec.protocol = RtProt::RTPROT_KERNEL;
        spec.scope = Some(if rt_type == RouteType::RTN_LOCAL {
            RtScope::RT_SCOPE_HOST
        } else {
            RtScope::RT_SCOPE_LINK
        });
        spec.prefsrc = Some(prim_local);
        spec.priority = priority;
        spec.nexthops = vec![NexthopSpec {
            gw: None,
            dev: Some(dev),
            weight: 1,
            flags: RtnhFlags(0),
        }];
        // NLM_F_CREATE | NLM_F_APPEND; an identical route already there is
        // left alone, and one whose src is not local is refused.
        if !route_exists(ns, &spec) && fib_valid_prefsrc(ns, &spec) {
            let _ = ns.fib_table_insert(&spec, true);
        }
    };
    magic(ns, RouteType::RTN_LOCAL, ifa.ifa_local, 32, 0);
    if !up {
        return;
    }
    if !ifa.ifa_broadcast.is_unspecified() && ifa.ifa_broadcast != Ipv4Addr::BROADCAST {
        magic(ns, RouteType::RTN_BROADCAST, ifa.ifa_broadcast, 32, 0);
    }
    let prefix = ifa.prefix();
    if !prefix.is_unspecified()
        && !ifa.is_secondary()
        && (prefix != ifa.ifa_local || ifa.ifa_prefixlen < 32)
    {
        let t = if loopback {
            RouteType::RTN_LOCAL
        } else {
            RouteType::RTN_UNICAST
        };
        magic(ns, t, prefix, ifa.ifa_prefixlen, ifa.ifa_rt_priority);
        if ifa.ifa_prefixlen < 31 {
            let brd = Ipv4Addr::from(u32::from(prefix) | !ifa.mask());
            magic(ns, RouteType::RTN_BROADCAST, brd, 32, 0);
        }
    }
}

/// Kernel: `inet_addr_type_table`: the type of the route `addr` meets in
/// table `tb_id` (scope universe, no TOS): broadcast for 0.0.0.0
/// (`ipv4_is_zeronet`) and 255.255.255.255, multicast for 224/4, unicast
/// when the table has no usable match.
pub fn inet_addr_type_table(ns: &Netns, addr: Ipv4Addr, tb_id: u32) -> RouteType {
    if addr.is_unspecified() || addr == Ipv4Addr::BROADCAST {
        return RouteType::RTN_BROADCAST;
    }
    if addr.is_multicast() {
        return RouteType::RTN_MULTICAST;
    }
    // fib_get_table: local is main's trie while there are no custom rules.
    let merged = [rt_table::RT_TABLE_LOCAL, rt_table::RT_TABLE_MAIN];
    let ids: &[u32] = if !ns.fib.has_custom_rules
        && (tb_id == rt_table::RT_TABLE_LOCAL || tb_id == rt_table::RT_TABLE_MAIN)
    {
        &merged
    } else {
        std::slice::from_ref(&tb_id)
    };
    if !ids.iter().any(|t| ns.fib.tables.contains_key(t)) {
        return RouteType::RTN_BROADCAST;
    }
    let fl4 = Flowi4::new(addr, Ipv4Addr::UNSPECIFIED);
    match crate::ipv4::fib_trie::fib_table_lookup(ns, ids, tb_id, &fl4, 0) {
        Ok(res) => res.rt_type,
        Err(_) => RouteType::RTN_UNICAST,
    }
}

/// Kernel: `fib_valid_prefsrc`: a route's `src` must be a local address
/// of its table (main's routes look in local), unless it is the `local`
/// route of that very address. `fib_create_info` refuses the route
/// otherwise ("Invalid prefsrc address"), `fib_add_ifaddr`'s routes too.
pub fn fib_valid_prefsrc(ns: &Netns, spec: &RouteSpec) -> bool {
    let Some(src) = spec.prefsrc else {
        return true;
    };
    if spec.rt_type == RouteType::RTN_LOCAL && !spec.dst.is_unspecified() && src == spec.dst {
        return true;
    }
    let tb = if spec.table == rt_table::RT_TABLE_MAIN {
        rt_table::RT_TABLE_LOCAL
    } else {
        spec.table
    };
    let mut rc = inet_addr_type_table(ns, src, tb);
    if rc != RouteType::RTN_LOCAL && tb != rt_table::RT_TABLE_LOCAL {
        rc = inet_addr_type_table(ns, src, rt_table::RT_TABLE_LOCAL);
    }
    rc == RouteType::RTN_LOCAL
}

/// Whether the table already holds this exact kernel route (same prefix,
/// type, metric, device and source), which `fib_table_insert` would refuse
/// as a duplicate.
fn route_exists(ns: &Netns, spec: &RouteSpec) -> bool {
    let Some(t) = ns.fib.table(spec.table) else {
        return false;
    };
    let key = u32::from(spec.dst) & crate::ipv4::devinet::prefix_mask(spec.dst_len);
    t.trie.get(key, spec.dst_len).is_some_and(|aliases| {
        aliases.iter().any(|fa| {
            let fi = ns.fib.info(fa.fa_info);
            fa.fa_type == spec.rt_type
                && fi.fib_priority == spec.priority
                && fi.fib_prefsrc == spec.prefsrc
                && fi.fib_nh.first().map(|n| n.nh_dev) == spec.nexthops.first().and_then(|n| n.dev)
        })
    })
}

/// The answer of the source validator: accept (`Ok(false)`), accept with the
/// source reachable on-link through the input device (`Ok(true)`, the
/// kernel's return value 1), or drop with a reason.
pub type ValidateResult = Result<bool, SkbDropReason>;

/// Kernel: `fib_validate_source`: with rp_filter off, no realms and no
/// redirect to consider, only a source that is one of the host's own
/// addresses is refused (unless accept_local, or custom rules or local
/// routes force the full check); otherwise `__fib_validate_source`.
#[allow(clippy::too_many_arguments)]
pub fn fib_validate_source<T: Tracer>(
    ns: &Netns,
    mark: u32,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dscp: u8,
    oif: IfIndex,
    dev: IfIndex,
    idev: &InDevice,
    t: &mut T,
) -> ValidateResult {
    t.enter(KernelFn::fib_validate_source);
    let r = ns.in_dev_rpfilter(idev);
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::fib_validate_source,
            Check::RpFilter {
                dev,
                value: r.clamp(0, 255) as u8,
            },
            Branch::Next,
        ));
    }
    let res = if r == 0 && (dev != oif || !ns.in_dev_tx_redirects(idev)) {
        let accept_local = ns.in_dev_accept_local(idev);
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::fib_validate_source,
                Check::AcceptLocal {
                    dev,
                    value: accept_local,
                },
                Branch::Next,
            ));
        }
        if accept_local {
            Ok(false)
        } else {
            let custom = ns.fib.has_custom_local_routes || ns.fib.has_custom_rules;
            if T::ENABLED {
                t.step(Step::new(
                    KernelFn::fib_validate_source,
                    Check::CustomRules { value: custom },
                    Branch::Next,
                ));
            }
            if custom {
                __fib_validate_source(ns, mark, src, dst, dscp, oif, dev, r, idev, t)
            } else {
                let local = ns.inet_lookup_ifaddr(src).is_some();
                if T::ENABLED {
                    t.step(Step::new(
                        KernelFn::fib_validate_source,
                        Check::SaddrIsLocal {
                            saddr: src,
                            value: local,
                        },
                        Branch::Next,
                    ));
                }
                if local {
                    Err(SkbDropReason::IP_LOCAL_SOURCE)
                } else {
                    Ok(false)
                }
            }
        }
    } else {
        __fib_validate_source(ns, mark, src, dst, dscp, oif, dev, r, idev, t)
    };
    if T::ENABLED {
        let ret = match res {
            Ok(false) => 0,
            Ok(true) => 1,
            Err(_) => -1,
        };
        t.step(Step::new(
            KernelFn::fib_validate_source,
            Check::Validated { ret },
            Branch::Next,
        ));
    }
    t.leave();
    res
}

/// Kernel: `__fib_validate_source`: looks the source up as a destination
/// (the reverse route). Not unicast: refused (local only with
/// accept_local). A next hop on the input device: accepted, on-link when its
/// scope is host. Otherwise strict rp_filter refuses; loose accepts if any
/// unicast route through the input device exists. No reverse route at all:
/// refused unless rp_filter is off.
#[allow(clippy::too_many_arguments)]
pub fn __fib_validate_source<T: Tracer>(
    ns: &Netns,
    mark: u32,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dscp: u8,
    oif: IfIndex,
    dev: IfIndex,
    rpf: i32,
    idev: &InDevice,
    t: &mut T,
) -> ValidateResult {
    t.enter(KernelFn::__fib_validate_source);
    let r = validate_inner(ns, mark, src, dst, dscp, oif, dev, rpf, idev, t);
    t.leave();
    r
}

#[allow(clippy::too_many_arguments)]
fn validate_inner<T: Tracer>(
    ns: &Netns,
    mark: u32,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dscp: u8,
    oif: IfIndex,
    dev: IfIndex,
    rpf: i32,
    idev: &InDevice,
    t: &mut T,
) -> ValidateResult {
    let mut fl4 = Flowi4::new(src, dst);
    fl4.flowi4_iif = if oif.0 != 0 { oif } else { LOOPBACK_IFINDEX };
    fl4.flowi4_dscp = dscp;
    fl4.flowi4_mark = if ns.in_dev_src_vmark(idev) { mark } else { 0 };
    let no_addr = idev.ifa_list.is_empty();

    let last_resort = |t: &mut T| {
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::__fib_validate_source,
                Check::RpFilter {
                    dev,
                    value: rpf as u8,
                },
                Branch::last_resort,
            ));
        }
        if rpf != 0 {
            Err(SkbDropReason::IP_RPFILTER)
        } else {
            Ok(false)
        }
    };

    let res = fib_lookup(ns, &fl4, 0, t);
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::__fib_validate_source,
            Check::ReverseLookup {
                saddr: src,
                oif: IfIndex(0),
                mark: fl4.flowi4_mark,
                result: (&res).into(),
            },
            Branch::Next,
        ));
    }
    let res = match res {
        Ok(r) => r,
        Err(_) => return last_resort(t),
    };
    if res.rt_type != RouteType::RTN_UNICAST {
        if res.rt_type != RouteType::RTN_LOCAL {
            return Err(SkbDropReason::IP_INVALID_SOURCE);
        } else if !ns.in_dev_accept_local(idev) {
            return Err(SkbDropReason::IP_LOCAL_SOURCE);
        }
    }
    let fi = res.fi.map(|id| ns.fib.info(id));
    let mut dev_match = fi.is_some_and(|fi| fi.fib_nh.iter().any(|nh| nh.nh_dev == dev));
    dev_match = dev_match || (res.rt_type == RouteType::RTN_LOCAL && dev == ns.loopback_ifindex());
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::__fib_validate_source,
            Check::DevMatch {
                dev,
                value: dev_match,
            },
            Branch::Next,
        ));
    }
    if dev_match {
        let scope = fi
            .and_then(|fi| fi.fib_nh.get(res.nh_sel))
            .map(|nh| nh.nh_scope)
            .unwrap_or(RtScope::RT_SCOPE_UNIVERSE);
        return Ok(scope >= RtScope::RT_SCOPE_HOST);
    }
    if no_addr {
        return last_resort(t);
    }
    if rpf == 1 {
        return Err(SkbDropReason::IP_RPFILTER);
    }
    fl4.flowi4_oif = dev;
    let res2 = fib_lookup(ns, &fl4, FIB_LOOKUP_IGNORE_LINKSTATE, t);
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::__fib_validate_source,
            Check::ReverseLookup {
                saddr: src,
                oif: dev,
                mark: fl4.flowi4_mark,
                result: (&res2).into(),
            },
            Branch::Next,
        ));
    }
    Ok(match res2 {
        Ok(r) if r.rt_type == RouteType::RTN_UNICAST => {
            r.fi.and_then(|id| ns.fib.info(id).fib_nh.get(r.nh_sel))
                .is_some_and(|nh| nh.nh_scope >= RtScope::RT_SCOPE_HOST)
        }
        _ => false,
    })
}
