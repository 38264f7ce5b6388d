//! Models `struct flowi4` (include/net/flow.h) and `struct fib_result`
//! (include/net/ip_fib.h): the key of a FIB lookup and its answer.

use std::net::Ipv4Addr;

use crate::ipv4::fib_semantics::FibInfoId;
use crate::netns::IfIndex;
use crate::uapi::{RouteType, RtScope};

/// Kernel: `struct flowi4`: what a FIB lookup matches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flowi4 {
    /// `flowi4_oif`: required output device (0 = any).
    pub flowi4_oif: IfIndex,
    /// `flowi4_iif`: input device (the loopback index on output lookups).
    pub flowi4_iif: IfIndex,
    /// `flowi4_mark`.
    pub flowi4_mark: u32,
    /// `flowi4_dscp`: the DSCP field as a TOS byte with ECN bits clear.
    pub flowi4_dscp: u8,
    /// `flowi4_scope`: routes of a narrower scope are skipped.
    pub flowi4_scope: RtScope,
    /// `flowi4_proto`: IP protocol (only set when rules need it).
    pub flowi4_proto: u8,
    /// `flowi4_uid`.
    pub flowi4_uid: u32,
    /// `daddr`.
    pub daddr: Ipv4Addr,
    /// `saddr`.
    pub saddr: Ipv4Addr,
    /// `fl4_sport` (only set when rules need it).
    pub fl4_sport: u16,
    /// `fl4_dport` (only set when rules need it).
    pub fl4_dport: u16,
}

impl Flowi4 {
    /// A flow with every field zero except the addresses.
    pub fn new(daddr: Ipv4Addr, saddr: Ipv4Addr) -> Self {
        Flowi4 {
            flowi4_oif: IfIndex(0),
            flowi4_iif: IfIndex(0),
            flowi4_mark: 0,
            flowi4_dscp: 0,
            flowi4_scope: RtScope::RT_SCOPE_UNIVERSE,
            flowi4_proto: 0,
            flowi4_uid: 0,
            daddr,
            saddr,
            fl4_sport: 0,
            fl4_dport: 0,
        }
    }
}

/// `FIB_LOOKUP_IGNORE_LINKSTATE`: use next hops whose link is down.
pub const FIB_LOOKUP_IGNORE_LINKSTATE: u32 = 2;

/// Kernel: `struct fib_result`: the route a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FibResult {
    /// `prefix`: the matched prefix.
    pub prefix: Ipv4Addr,
    /// `prefixlen`.
    pub prefixlen: u8,
    /// `nh_sel`: index of the chosen next hop in `fi`.
    pub nh_sel: usize,
    /// `type`.
    pub rt_type: RouteType,
    /// `scope`.
    pub scope: RtScope,
    /// `dscp`: the matched route's TOS (0 = any).
    pub dscp: u8,
    /// `fi`: the route's fib_info (none for results made without a route).
    pub fi: Option<FibInfoId>,
    /// `table->tb_id`: the table that answered.
    pub table: u32,
}

impl FibResult {
    /// An empty result (`res->fi = res->table = NULL`).
    pub const fn empty() -> Self {
        FibResult {
            prefix: Ipv4Addr::UNSPECIFIED,
            prefixlen: 0,
            nh_sel: 0,
            rt_type: RouteType::RTN_UNSPEC,
            scope: RtScope::RT_SCOPE_UNIVERSE,
            dscp: 0,
            fi: None,
            table: 0,
        }
    }
}
