//! Models the delivery side of net/ipv4/ip_input.c reached through
//! `dst_input`: `ip_local_deliver` for local and broadcast routes, and the
//! multicast handlers `ip_mr_input` (net/ipv4/ipmr.c) and `dst_discard`.
//! The packet-level checks before the route decision (`ip_rcv_core`) and
//! the transport demultiplexing live with the packet path.

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::NetRx;
use crate::core::skbuff::SkBuff;
use crate::netns::Netns;
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};

/// Kernel: `ip_local_deliver`: the packet is for this host. Counts
/// `InDelivers` and hands the packet up.
pub fn ip_local_deliver<T: Tracer>(ns: &mut Netns, _skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    t.enter(KernelFn::ip_local_deliver);
    ns.mib.ip.InDelivers += 1;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_local_deliver,
            Check::Counter { name: "InDelivers" },
            Branch::ok,
        ));
    }
    t.leave();
    NetRx::Success
}

/// Kernel: `dst_discard`: the input of a route that must not carry
/// packets (a multicast group that is not ours): free the packet.
pub fn dst_discard<T: Tracer>(_ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    skb.drop_reason = SkbDropReason::NOT_SPECIFIED;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::dst_discard,
            Check::Drop {
                reason: SkbDropReason::NOT_SPECIFIED,
            },
            Branch::out,
        ));
    }
    NetRx::Drop
}

/// Kernel: `ip_mr_input`: multicast forwarding. No multicast routing
/// daemon is modelled, so nothing is forwarded and the packet is freed.
pub fn ip_mr_input<T: Tracer>(_ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    skb.drop_reason = SkbDropReason::NOT_SPECIFIED;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_mr_input,
            Check::Drop {
                reason: SkbDropReason::NOT_SPECIFIED,
            },
            Branch::out,
        ));
    }
    NetRx::Drop
}
