//! Models the output handlers of net/ipv4/ip_output.c and route.c that a
//! dst's `output` pointer names: `ip_output` and `ip_rt_bug`.

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::NetTx;
use crate::core::skbuff::SkBuff;
use crate::netns::Netns;
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};

/// Kernel: `ip_output`: sends the packet on the route's device
/// (`OutTransmits`).
pub fn ip_output<T: Tracer>(ns: &mut Netns, _skb: &mut SkBuff<'_>, t: &mut T) -> NetTx {
    ns.mib.ip.OutTransmits += 1;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_output,
            Check::Counter {
                name: "OutTransmits",
            },
            Branch::ok,
        ));
    }
    NetTx::Success
}

/// Kernel: `ip_rt_bug`: the output of an input-only route; the kernel warns
/// and frees the packet.
pub fn ip_rt_bug<T: Tracer>(_ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetTx {
    skb.drop_reason = SkbDropReason::NOT_SPECIFIED;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_rt_bug,
            Check::Drop {
                reason: SkbDropReason::NOT_SPECIFIED,
            },
            Branch::out,
        ));
    }
    NetTx::Drop
}
