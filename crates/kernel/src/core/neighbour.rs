//! Models the neighbour (ARP) table of net/core/neighbour.c as far as
//! forwarding needs it: whether a next hop's link-layer address is known
//! (`NUD_*` states) and what it is.

use std::net::Ipv4Addr;

use crate::netns::IfIndex;

/// Kernel: `NUD_*` neighbour states.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NudState {
    /// `NUD_INCOMPLETE`: resolution in progress.
    NUD_INCOMPLETE,
    /// `NUD_REACHABLE`.
    NUD_REACHABLE,
    /// `NUD_STALE`.
    NUD_STALE,
    /// `NUD_DELAY`.
    NUD_DELAY,
    /// `NUD_PROBE`.
    NUD_PROBE,
    /// `NUD_FAILED`: resolution failed.
    NUD_FAILED,
    /// `NUD_NOARP`: no resolution needed.
    NUD_NOARP,
    /// `NUD_PERMANENT`: configured by hand.
    NUD_PERMANENT,
    /// `NUD_NONE`.
    NUD_NONE,
}

impl NudState {
    /// `NUD_VALID`: a usable link-layer address.
    pub fn is_valid(self) -> bool {
        matches!(
            self,
            NudState::NUD_REACHABLE
                | NudState::NUD_STALE
                | NudState::NUD_DELAY
                | NudState::NUD_PROBE
                | NudState::NUD_NOARP
                | NudState::NUD_PERMANENT
        )
    }

    /// The state of an `ip -j neigh` "state" word.
    pub fn from_word(w: &str) -> Option<NudState> {
        Some(match w {
            "INCOMPLETE" => NudState::NUD_INCOMPLETE,
            "REACHABLE" => NudState::NUD_REACHABLE,
            "STALE" => NudState::NUD_STALE,
            "DELAY" => NudState::NUD_DELAY,
            "PROBE" => NudState::NUD_PROBE,
            "FAILED" => NudState::NUD_FAILED,
            "NOARP" => NudState::NUD_NOARP,
            "PERMANENT" => NudState::NUD_PERMANENT,
            "NONE" => NudState::NUD_NONE,
            _ => return None,
        })
    }
}

/// Kernel: `struct neighbour`: one ARP entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// `dev`.
    pub dev: IfIndex,
    /// `primary_key`: the IPv4 address.
    pub ip: Ipv4Addr,
    /// `ha`: the MAC address, when known.
    pub lladdr: Option<[u8; 6]>,
    /// `nud_state`.
    pub state: NudState,
    /// `updated`: when resolution last started (jiffies), for unresolved entries.
    pub updated: u64,
}

impl Neighbour {
    /// An entry in `state` (a configured or learned one).
    pub fn new(dev: IfIndex, ip: Ipv4Addr, lladdr: Option<[u8; 6]>, state: NudState) -> Self {
        Neighbour {
            dev,
            ip,
            lladdr,
            state,
            updated: 0,
        }
    }
}

/// How long an unanswered resolution lasts before the kernel gives up
/// (`mcast_solicit` probes, one per `retrans_time` of 1 s).
pub const NEIGH_RESOLVE_JIFFIES: u64 = 3 * crate::HZ;
