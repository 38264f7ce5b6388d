//! Models net/netfilter/nf_conntrack_*.c: the connection table, the tuple of
//! a packet in each direction, `nf_conntrack_in` at PRE_ROUTING and
//! LOCAL_OUT, `nf_conntrack_confirm` at POST_ROUTING and LOCAL_IN, and the
//! per-protocol trackers (TCP, UDP, ICMP with RELATED errors).
//!
//! Known limitations, each a place where the kernel does more:
//!
//! * No defragmentation: in the kernel `nf_defrag_ipv4` reassembles before
//!   `nf_conntrack_in`. Here a first fragment (MF set, offset 0) is tracked
//!   by its tuple with the L4 length and checksum checks skipped (they would
//!   apply to the whole datagram), and later fragments (offset != 0) are not
//!   tracked at all: their `nfct` stays None, so they look INVALID and NAT
//!   does not rewrite them.
//! * TCP window tracking has no NAT sequence offsets (no helper here
//!   resizes a payload) and no SYN proxy (proto_tcp.rs).
//! * Protocols other than TCP, UDP, UDP-Lite and ICMP are tracked as the
//!   generic tracker does (ports 0, `nf_conntrack_generic_timeout` 600 s),
//!   also SCTP, DCCP and GRE, which have their own trackers in the kernel.
//! * No helpers or expectations (`IPS_EXPECTED` is never set), no zones.
//! * A clash at confirmation is resolved as `__nf_ct_resolve_clash` does
//!   (UDP and ICMP adopt an identical entry); `nf_ct_resolve_clash_harder`
//!   is not modelled: such a packet is dropped.

pub mod nf_conntrack_core;
pub mod proto_icmp;
pub mod proto_tcp;
pub mod proto_udp;

#[cfg(test)]
pub(crate) mod tests;

pub use nf_conntrack_core::*;
pub use proto_tcp::{IpCtTcp, IpCtTcpState, TcpConntrack};
