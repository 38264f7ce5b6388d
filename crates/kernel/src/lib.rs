//! The model of the Linux kernel's IPv4 input path (Linux 6.18), sans-IO:
//! a host's state (`Netns`) and a packet (`SkBuff`) in, the route decision,
//! the handler's verdict, counters and an optional trace out.
//!
//! The path, top to bottom, as in the kernel:
//!
//! - `ipv4::route::ip_route_input_noref` → `ip_route_input_rcu` →
//!   `ip_route_input_slow` (or `ip_route_input_mc`) decides, using
//!   `ipv4::fib_rules::fib_lookup` (policy rules and tables,
//!   `ipv4::fib_trie`) and `ipv4::fib_frontend::fib_validate_source`, and
//!   attaches an `core::dst::Rtable` to the skb;
//! - `core::dst::dst_input` calls the route's `dst.input`:
//!   `ipv4::ip_forward::ip_forward`, `ipv4::ip_input::ip_local_deliver` or
//!   `ipv4::route::ip_error`;
//! - `ipv4::route_output` answers for packets the host itself sends
//!   (`ip route get` without `iif`).
//!
//! Tracing is a type parameter (`trace::Tracer`): `NoTrace` compiles to
//! nothing, `Recorder` keeps the steps.

pub mod core {
    //! Protocol-independent parts: the packet, the route, drop reasons, rules.
    pub mod dev;
    pub mod dropreason;
    pub mod dst;
    pub mod fib_rules;
    pub mod neighbour;
    pub mod skbuff;
    pub mod tx;
}
pub mod ethernet {
    //! The link layer.
    pub mod eth;
}
pub mod ipv4 {
    //! The IPv4 files of the kernel, one module each.
    pub mod devinet;
    pub mod fib_frontend;
    pub mod fib_rules;
    pub mod fib_semantics;
    pub mod fib_trie;
    pub mod icmp;
    pub mod inetpeer;
    pub mod ip_forward;
    pub mod ip_fragment;
    pub mod ip_hdr;
    pub mod ip_input;
    pub mod ip_output;
    pub mod route;
    pub mod route_output;
    pub mod rtnetlink;
    pub mod snmp;
}
pub mod bridge;
pub mod doctor;
pub mod drivers {
    //! Device drivers whose transmit decides where a frame goes.
    pub mod veth;
}
pub mod explain;
pub mod flow;
pub mod netfilter;
pub mod netns;
pub mod sysctl;
pub mod topology;
pub mod trace;
pub mod uapi;

#[cfg(test)]
mod handler_tests;
#[cfg(test)]
mod packet_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub mod testutil;

pub use crate::core::dropreason::SkbDropReason;

/// `HZ` of the modelled kernel: jiffies per second (CONFIG_HZ=250).
pub const HZ: u64 = 250;
pub use crate::netns::{IfIndex, Netns};
