//! Models net/ipv4/netfilter/nft_fib_ipv4.c: `fib saddr . iif oif` (the
//! reverse-path check: does the route back to the source leave through
//! the input device) and `fib daddr type` (`inet_addr_type`).

use std::net::Ipv4Addr;

use crate::flow::{FIB_LOOKUP_IGNORE_LINKSTATE, Flowi4};
use crate::ipv4::fib_rules::fib_lookup;
use crate::ipv4::route::{
    ipv4_is_lbcast, ipv4_is_local_multicast, ipv4_is_multicast, ipv4_is_zeronet,
};
use crate::netfilter::NfInetHook;
use crate::netfilter::core::NfHookState;
use crate::netfilter::nf_tables::{FibResultKind, IfName, NftValue, fib_flags};
use crate::netfilter::xtables::eval::NfPktInfo;
use crate::netns::{IfIndex, Netns};
use crate::trace::NoTrace;
use crate::uapi::RouteType;

fn store(result: FibResultKind, ns: &Netns, dev: IfIndex) -> NftValue {
    match result {
        FibResultKind::Oifname => {
            NftValue::Name(IfName::new(ns.dev(dev).map_or("", |d| d.name.as_str())))
        }
        _ => NftValue::Int(dev.0 as u64),
    }
}

/// `get_saddr`: a multicast, broadcast or zero address is no source.
fn get_saddr(a: Ipv4Addr) -> Ipv4Addr {
    if ipv4_is_multicast(a) || ipv4_is_lbcast(a) || ipv4_is_zeronet(a) {
        Ipv4Addr::UNSPECIFIED
    } else {
        a
    }
}

/// Kernel: `nft_fib4_eval_type`: the address type of `saddr` or `daddr`
/// (`inet_dev_addr_type` without a device: the local table decides).
pub fn nft_fib4_eval_type(flags: u8, ns: &Netns, p: &NfPktInfo) -> NftValue {
    let addr = if flags & fib_flags::DADDR != 0 {
        p.daddr
    } else {
        p.saddr
    };
    let t = crate::ipv4::fib_frontend::inet_addr_type_table(
        ns,
        addr,
        crate::netns::rt_table::RT_TABLE_LOCAL,
    );
    NftValue::Int(t.0 as u64)
}

/// Kernel: `nft_fib4_eval`: the output device of the route to `daddr` (or
/// back to `saddr`), 0 when there is none, it is a local route, or (with
/// `iif`/`oif`) it does not use that device.
pub fn nft_fib4_eval(
    flags: u8,
    result: FibResultKind,
    ns: &Netns,
    state: &NfHookState,
    p: &NfPktInfo,
    mark: u32,
) -> NftValue {
    let oif = if flags & fib_flags::IIF != 0 {
        Some(state.indev)
    } else if flags & fib_flags::OIF != 0 {
        Some(state.outdev)
    } else {
        None
    };
    if state.hook == NfInetHook::PreRouting && ns.dev(state.indev).is_some_and(|d| d.is_loopback())
    {
        return store(result, ns, state.indev);
    }
    if ipv4_is_zeronet(p.saddr) && (ipv4_is_lbcast(p.daddr) || ipv4_is_local_multicast(p.daddr)) {
        return store(result, ns, state.indev);
    }
    let mut fl4 = if flags & fib_flags::DADDR != 0 {
        Flowi4::new(p.daddr, get_saddr(p.saddr))
    } else {
        let mut f = Flowi4::new(p.saddr, get_saddr(p.daddr));
        if state.hook == NfInetHook::Forward && flags & fib_flags::IIF != 0 {
            f.flowi4_iif = state.outdev;
        }
        f
    };
    if fl4.flowi4_iif.0 == 0 {
        fl4.flowi4_iif = ns.loopback_ifindex();
    }
    if flags & fib_flags::MARK != 0 {
        fl4.flowi4_mark = mark;
    }
    let missing = store(result, ns, IfIndex(0));
    let Ok(res) = fib_lookup(ns, &fl4, FIB_LOOKUP_IGNORE_LINKSTATE, &mut NoTrace) else {
        return missing;
    };
    if res.rt_type == RouteType::RTN_LOCAL {
        return missing;
    }
    let Some(fi) = res.fi.map(|id| ns.fib.info(id)) else {
        return missing;
    };
    match oif {
        None => match fi.fib_nh.get(res.nh_sel) {
            Some(nh) => store(result, ns, nh.nh_dev),
            None => missing,
        },
        Some(dev) => {
            if fi.fib_nh.iter().any(|nh| nh.nh_dev == dev) {
                store(result, ns, dev)
            } else {
                missing
            }
        }
    }
}
