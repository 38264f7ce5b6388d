//! Models net/ipv4/ip_forward.c: `ip_forward`, the input handler of a
//! forwarding route.

use crate::core::dst::{NetRx, NetTx, dst_output};
use crate::core::skbuff::{IpskbFlags, SkBuff};
use crate::netns::Netns;
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};

/// Kernel: `ip_forward`: counts `ForwDatagrams`, marks the packet
/// forwarded and sends it out through `dst_output`.
pub fn ip_forward<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    t.enter(KernelFn::ip_forward);
    ns.mib.ip.ForwDatagrams += 1;
    skb.cb.flags.0 |= IpskbFlags::IPSKB_FORWARDED.0;
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::ip_forward,
            Check::Counter {
                name: "ForwDatagrams",
            },
            Branch::Next,
        ));
    }
    let r = match dst_output(ns, skb, t) {
        NetTx::Success => NetRx::Success,
        NetTx::Drop => NetRx::Drop,
    };
    t.leave();
    r
}
