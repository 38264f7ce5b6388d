//! Models net/netfilter/nf_conntrack_*.c: the connection table, the tuple of
//! a packet in each direction, `nf_conntrack_in` at PRE_ROUTING and
//! LOCAL_OUT, `nf_conntrack_confirm` at POST_ROUTING and LOCAL_IN, and the
//! per-protocol trackers (TCP, UDP, ICMP with RELATED errors).

pub mod nf_conntrack_core;

pub use nf_conntrack_core::*;
