//! Models net/netfilter/nf_nat_masquerade.c: `nf_nat_masquerade_ipv4`, the
//! source address of a masqueraded connection chosen from its output
//! device as `inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE)`.

use std::net::Ipv4Addr;

use crate::netns::{IfIndex, Netns};
use crate::uapi::RtScope;

/// Kernel: the address choice of `nf_nat_masquerade_ipv4`: None when the
/// device has no address (the packet is dropped).
pub fn masquerade_source(ns: &Netns, out: IfIndex, nexthop: Ipv4Addr) -> Option<Ipv4Addr> {
    let a = crate::ipv4::devinet::inet_select_addr(ns, out, nexthop, RtScope::RT_SCOPE_UNIVERSE);
    (!a.is_unspecified()).then_some(a)
}
