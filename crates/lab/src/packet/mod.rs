//! Packets through a real router, next to `fwdsim replay`.
//!
//! The lab of shared/kernel-notes.md ("Verified on 6.18 here"): three
//! namespaces joined by veth pairs,
//!
//! ```text
//!   client c0 10.0.1.2/24 ---- r0 10.0.1.1/24  router  r1 10.0.2.1/24 ---- s0 10.0.2.2/24 server
//!   02:00:00:00:01:02          02:00:00:00:01:01       02:00:00:00:02:01   02:00:00:00:02:02
//! ```
//!
//! with permanent neighbours everywhere (no ARP), a random router
//! configuration ([`config`]), and a catalogue of valid and malformed
//! frames ([`frames`]) injected one at a time from the client with an
//! `AF_PACKET` socket ([`wire`]). For each frame the lab records what the
//! kernel did ([`wire::KernelObs`]): the frames that reached the server and
//! the frames that came back to the client, the router's counter deltas
//! ([`snmp`]) and the `skb:kfree_skb` drop reason ([`ktrace`]). The same
//! frames, written to a pcap ([`capture`]), go through `fwdsim replay` on a
//! snapshot of the router ([`replay`]), and [`compare`] sets the two side by
//! side; [`run`] drives whole runs for `tests/kernel_packet.rs`.
//!
//! The client and server stacks never see the frames: `c0` and `s0` are
//! ports of a bridge that is down, so `br_handle_frame` drops every frame
//! they receive (`BRIDGE_INGRESS_STP_STATE`, a reason the router never
//! gives) after the packet sockets, which run first, have seen it. So the
//! server answers nothing, the client answers nothing, and the only IPv4
//! traffic through the router is what the lab injects.

pub mod capture;
pub mod compare;
pub mod config;
pub mod frames;
pub mod ktrace;
pub mod lab;
pub mod nf;
pub mod replay;
pub mod run;
pub mod snmp;
pub mod wire;

pub use config::RouterConfig;
pub use lab::PktLab;
pub use wire::{Endpoints, KernelObs};
