//! Models `struct dst_entry` and `struct rtable` (include/net/dst.h,
//! include/net/route.h): the routing decision as data plus behaviour. The
//! route decision stores the handler to run in `dst.input` and
//! `ip_rcv_finish` calls it through `dst_input`: one indirect call, no
//! if-else on the route type afterwards.

use std::net::Ipv4Addr;

use crate::core::skbuff::SkBuff;
use crate::netns::{IfIndex, Netns};
use crate::trace::{KernelFn, NoTrace, Recorder, Tracer};
use crate::uapi::{Errno, RouteType, RtcFlags};

/// What an input handler did with the packet (`NET_RX_SUCCESS` / `NET_RX_DROP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetRx {
    /// `NET_RX_SUCCESS`: forwarded, delivered or queued.
    Success,
    /// `NET_RX_DROP`: freed; the reason is in `skb.drop_reason`.
    Drop,
}

/// What an output handler did with the packet (`NET_XMIT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetTx {
    /// Handed to the device (or its neighbour queue).
    Success,
    /// Dropped; the reason is in `skb.drop_reason`.
    Drop,
}

/// The signature of `dst.input` for one tracer.
pub type DstInputFn<T> = fn(&mut Netns, &mut SkBuff<'_>, &mut T) -> NetRx;
/// The signature of `dst.output` for one tracer.
pub type DstOutputFn<T> = fn(&mut Netns, &mut SkBuff<'_>, &mut T) -> NetTx;

/// `dst.input`: a handler as a function pointer per tracer, with the kernel
/// name it stands for. The name is what the trace prints and what equality
/// compares (comparing function pointers is unreliable).
#[derive(Clone, Copy)]
pub struct DstInput {
    /// The kernel function.
    pub name: KernelFn,
    /// Its untraced instantiation.
    pub no_trace: DstInputFn<NoTrace>,
    /// Its traced instantiation.
    pub recorder: DstInputFn<Recorder>,
}

/// `dst.output`: like `DstInput`, for the output side.
#[derive(Clone, Copy)]
pub struct DstOutput {
    /// The kernel function.
    pub name: KernelFn,
    /// Its untraced instantiation.
    pub no_trace: DstOutputFn<NoTrace>,
    /// Its traced instantiation.
    pub recorder: DstOutputFn<Recorder>,
}

impl PartialEq for DstInput {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
    }
}
impl Eq for DstInput {}
impl PartialEq for DstOutput {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
    }
}
impl Eq for DstOutput {}

impl std::fmt::Debug for DstInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name.name())
    }
}
impl std::fmt::Debug for DstOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name.name())
    }
}

/// Builds a `DstInput` for a handler in scope that is generic over the
/// tracer: `dst_input_fn!(ip_forward)`.
#[macro_export]
macro_rules! dst_input_fn {
    ($f:ident) => {
        $crate::core::dst::DstInput {
            name: $crate::trace::KernelFn::$f,
            no_trace: $f::<$crate::trace::NoTrace>,
            recorder: $f::<$crate::trace::Recorder>,
        }
    };
}

/// Builds a `DstOutput` for a handler generic over the tracer.
#[macro_export]
macro_rules! dst_output_fn {
    ($f:ident) => {
        $crate::core::dst::DstOutput {
            name: $crate::trace::KernelFn::$f,
            no_trace: $f::<$crate::trace::NoTrace>,
            recorder: $f::<$crate::trace::Recorder>,
        }
    };
}

/// `DST_NOXFRM` / `DST_NOPOLICY` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DstFlags(pub u16);

#[allow(missing_docs)]
impl DstFlags {
    pub const DST_NOXFRM: DstFlags = DstFlags(0x2);
    pub const DST_NOPOLICY: DstFlags = DstFlags(0x4);
}

/// Kernel: `struct dst_entry`: where a packet goes and what runs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DstEntry {
    /// `dev`: the output device (loopback for local delivery).
    pub dev: IfIndex,
    /// `input`: the handler `dst_input` calls.
    pub input: DstInput,
    /// `output`: the handler `dst_output` calls.
    pub output: DstOutput,
    /// `error`: the errno `ip_error` reports (0 = none).
    pub error: Errno,
    /// `flags`.
    pub flags: DstFlags,
}

/// Kernel: `struct rtable`: an IPv4 route decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtable {
    /// `dst`.
    pub dst: DstEntry,
    /// `rt_genid`: the cache generation it was made in.
    pub rt_genid: u32,
    /// `rt_flags` (`RTCF_*`).
    pub rt_flags: RtcFlags,
    /// `rt_type`.
    pub rt_type: RouteType,
    /// `rt_is_input`.
    pub rt_is_input: bool,
    /// `rt_uses_gateway`.
    pub rt_uses_gateway: bool,
    /// `rt_iif`.
    pub rt_iif: IfIndex,
    /// `rt_gw4` (0.0.0.0 = none).
    pub rt_gw4: Ipv4Addr,
    /// `rt_mtu_locked`.
    pub rt_mtu_locked: bool,
    /// `rt_pmtu` (0 = none).
    pub rt_pmtu: u32,
    /// The MTU metric of the route (`RTAX_MTU`, 0 = none).
    pub mtu_metric: u32,
    /// The table the route came from (reported by `ip route get`).
    pub table: u32,
    /// The matched route's TOS (reported by `ip route get` as `tos`).
    pub dscp: u8,
    /// The preferred source of the matched route, if any.
    pub prefsrc: Option<Ipv4Addr>,
}

/// Kernel: `dst_input`: calls `skb_dst(skb)->input`. The pointer is copied
/// out first, as the kernel's `READ_ONCE` does; no branch on the route type.
#[inline]
pub fn dst_input<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetRx {
    let Some(rt) = skb.dst.as_ref() else {
        skb.drop_reason = crate::core::dropreason::SkbDropReason::NOT_SPECIFIED;
        return NetRx::Drop;
    };
    let input = T::input_fn(&rt.dst.input);
    input(ns, skb, t)
}

/// Kernel: `dst_output`: calls `skb_dst(skb)->output`.
#[inline]
pub fn dst_output<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> NetTx {
    let Some(rt) = skb.dst.as_ref() else {
        skb.drop_reason = crate::core::dropreason::SkbDropReason::NOT_SPECIFIED;
        return NetTx::Drop;
    };
    let output = T::output_fn(&rt.dst.output);
    output(ns, skb, t)
}
