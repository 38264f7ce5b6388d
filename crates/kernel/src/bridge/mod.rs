//! Models the Linux bridge (net/bridge): the bridge device's state
//! (`struct net_bridge`: ports, forwarding database, ageing), a port's state
//! (`struct net_bridge_port`: STP state, flags such as hairpin and
//! isolation), and the frame's path through it:
//!
//! - `br_input::br_handle_frame` — the rx handler of a port: link-local
//!   group addresses, the port state, then (with `br_netfilter`)
//!   `NF_INET_PRE_ROUTING`, then `br_handle_frame_finish`: learning
//!   (`br_fdb::br_fdb_update`), local delivery (`br_pass_frame_up`, which
//!   receives the frame again on the bridge device, up to `ip_rcv`),
//!   forwarding to a known port or flooding;
//! - `br_forward::br_forward`, `br_forward::br_flood` — `should_deliver`
//!   (port state, hairpin, isolation), then the frame out of the port;
//! - `br_forward::br_dev_xmit` — the host's own frames sent on the bridge
//!   device: FDB lookup, or flood;
//! - `br_netfilter_hooks` — `net.bridge.bridge-nf-call-iptables`: bridged
//!   IPv4 frames pass the iptables PRE_ROUTING, FORWARD and POST_ROUTING
//!   hooks with the bridge as device and the ports as physdev.
//!
//! Frames a bridge sends go to `Netns::tx` like every other frame: the one on
//! the bridge device itself (what `tcpdump -i docker0` shows), then one per
//! port it leaves by. VLAN filtering, multicast snooping (IGMP querier,
//! MDB), STP itself (BPDUs), proxy ARP / neighbour suppression, locked
//! ports and switchdev are not modelled: multicast floods as with no
//! querier, which is the default bridge's behaviour.

//!
//! # Loading a bridge (for `fwdsim-host`)
//!
//! - The bridge device: `NetDevice::kind = DevKind::Bridge(Box::new(NetBridge
//!   { ageing_time, stp_enabled, group_fwd_mask, ..Default::default() }))`
//!   from `ip -d -j link` (`linkinfo.info_kind` "bridge"; `info_data`:
//!   `ageing_time` in `USER_HZ` ticks: [`clock_t_to_jiffies`]; `stp_state`
//!   non-zero; `group_fwd_mask`).
//! - Its ports: once every device is registered, [`crate::netns::Netns::br_add_if`]`(bridge,
//!   port)` for each device whose `master` is the bridge, in ifindex order
//!   (the kernel's port list then has the newest port first, as when they
//!   were enslaved in that order). Then the port's state and flags from
//!   `bridge -d -j link` (`state`: [`BrPortState::from_word`]; `hairpin`,
//!   `learning`, `flood`, `mcast_flood`, `bcast_flood`, `isolated`,
//!   `proxy_arp`: [`BrPortFlags::set`]) in `NetDevice::brport`.
//! - The FDB: `bridge -j fdb show` entries with `master` a bridge:
//!   [`br_fdb::br_fdb_add`] (`permanent` → `BR_FDB_LOCAL | BR_FDB_STATIC`,
//!   `static` → `BR_FDB_STATIC`, `sticky` → `BR_FDB_STICKY`; an entry of
//!   the bridge device itself has no port). Learned entries can be pushed to
//!   `NetBridge::fdb` directly with `updated` = the snapshot's jiffies less
//!   their age. Local entries for the bridge's and ports' own addresses are
//!   implied and need not be loaded.
//! - `net.bridge.bridge-nf-call-iptables` is `NfSysctl::bridge_nf_call_iptables`.

pub mod br_fdb;
pub mod br_forward;
pub mod br_input;
pub mod br_netfilter_hooks;

use crate::netns::IfIndex;

/// Kernel: `BR_STATE_*`: a port's spanning-tree state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct BrPortState(pub u8);

#[allow(missing_docs)]
impl BrPortState {
    pub const BR_STATE_DISABLED: BrPortState = BrPortState(0);
    pub const BR_STATE_LISTENING: BrPortState = BrPortState(1);
    pub const BR_STATE_LEARNING: BrPortState = BrPortState(2);
    pub const BR_STATE_FORWARDING: BrPortState = BrPortState(3);
    pub const BR_STATE_BLOCKING: BrPortState = BrPortState(4);

    /// The word `bridge link` prints (`disabled`, `forwarding`, ...).
    pub fn word(self) -> &'static str {
        match self.0 {
            0 => "disabled",
            1 => "listening",
            2 => "learning",
            3 => "forwarding",
            4 => "blocking",
            _ => "?",
        }
    }

    /// The state named by `bridge -j link` (`forwarding`, ...).
    pub fn from_word(w: &str) -> Option<BrPortState> {
        Some(match w {
            "disabled" => Self::BR_STATE_DISABLED,
            "listening" => Self::BR_STATE_LISTENING,
            "learning" => Self::BR_STATE_LEARNING,
            "forwarding" => Self::BR_STATE_FORWARDING,
            "blocking" => Self::BR_STATE_BLOCKING,
            _ => return None,
        })
    }
}

/// Kernel: `BR_*` port flags (`struct net_bridge_port::flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct BrPortFlags(pub u32);

#[allow(missing_docs)]
impl BrPortFlags {
    pub const BR_HAIRPIN_MODE: BrPortFlags = BrPortFlags(1 << 0);
    pub const BR_LEARNING: BrPortFlags = BrPortFlags(1 << 5);
    pub const BR_FLOOD: BrPortFlags = BrPortFlags(1 << 6);
    pub const BR_PROXYARP: BrPortFlags = BrPortFlags(1 << 8);
    pub const BR_MCAST_FLOOD: BrPortFlags = BrPortFlags(1 << 11);
    pub const BR_BCAST_FLOOD: BrPortFlags = BrPortFlags(1 << 14);
    pub const BR_ISOLATED: BrPortFlags = BrPortFlags(1 << 16);

    /// What `new_nbp` gives a new port: learning and every kind of flood.
    pub const DEFAULT: BrPortFlags = BrPortFlags(
        Self::BR_LEARNING.0 | Self::BR_FLOOD.0 | Self::BR_MCAST_FLOOD.0 | Self::BR_BCAST_FLOOD.0,
    );

    /// True when every bit of `o` is set.
    pub const fn contains(self, o: BrPortFlags) -> bool {
        self.0 & o.0 == o.0
    }

    /// Sets or clears the bits of `o`.
    pub fn set(&mut self, o: BrPortFlags, on: bool) {
        if on {
            self.0 |= o.0;
        } else {
            self.0 &= !o.0;
        }
    }
}

/// Kernel: `struct net_bridge_port`: the bridge's view of one of its ports
/// (the port device's `rx_handler_data`). The bridge it belongs to is the
/// port device's `master`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetBridgePort {
    /// `state`: `BR_STATE_FORWARDING` once up on a bridge without STP.
    pub state: BrPortState,
    /// `flags`: `BR_LEARNING | BR_FLOOD | BR_MCAST_FLOOD | BR_BCAST_FLOOD` by default.
    pub flags: BrPortFlags,
    /// `port_no`.
    pub port_no: u16,
}

impl Default for NetBridgePort {
    fn default() -> Self {
        NetBridgePort {
            state: BrPortState::BR_STATE_FORWARDING,
            flags: BrPortFlags::DEFAULT,
            port_no: 0,
        }
    }
}

/// Kernel: `BR_FDB_*` entry flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FdbFlags(pub u32);

#[allow(missing_docs)]
impl FdbFlags {
    /// `BR_FDB_LOCAL`: an address of the bridge or of a port: frames to it go up.
    pub const BR_FDB_LOCAL: FdbFlags = FdbFlags(1 << 0);
    /// `BR_FDB_STATIC`: never ages (`bridge fdb add ... static`, `permanent`).
    pub const BR_FDB_STATIC: FdbFlags = FdbFlags(1 << 1);
    /// `BR_FDB_STICKY`: never moves to another port.
    pub const BR_FDB_STICKY: FdbFlags = FdbFlags(1 << 2);
    /// `BR_FDB_ADDED_BY_USER`.
    pub const BR_FDB_ADDED_BY_USER: FdbFlags = FdbFlags(1 << 3);

    /// True when every bit of `o` is set.
    pub const fn contains(self, o: FdbFlags) -> bool {
        self.0 & o.0 == o.0
    }
}

/// Kernel: `struct net_bridge_fdb_entry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetBridgeFdbEntry {
    /// `key.addr`.
    pub addr: [u8; 6],
    /// `key.vlan_id` (0: no VLAN; VLAN filtering is not modelled).
    pub vlan_id: u16,
    /// `dst`: the port the address is behind; None for the bridge's own.
    pub dst: Option<IfIndex>,
    /// `flags`.
    pub flags: FdbFlags,
    /// `updated` (jiffies): when a frame from the address was last seen.
    pub updated: u64,
    /// `used` (jiffies): when a frame to it was last forwarded.
    pub used: u64,
}

/// `BR_DEFAULT_AGEING_TIME`: 300 s.
pub const BR_DEFAULT_AGEING_TIME: u64 = 300 * crate::HZ;

/// Kernel: `clock_t_to_jiffies` for the bridge's netlink times
/// (`IFLA_BR_AGEING_TIME`, `ip -d -j link`'s `ageing_time`), which are in
/// `USER_HZ` (100) ticks: 30000 is 300 s.
pub const fn clock_t_to_jiffies(t: u64) -> u64 {
    t * crate::HZ / 100
}

/// Kernel: `struct net_bridge` (the bridge device's private part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetBridge {
    /// `port_list` in the kernel's order: `br_add_if` puts a new port
    /// first, and flooding walks it from the front.
    pub ports: Vec<IfIndex>,
    /// The forwarding database (`fdb_hash_tbl`).
    pub fdb: Vec<NetBridgeFdbEntry>,
    /// `ageing_time` (jiffies); 0 disables learning (`hold_time` 0: always flood).
    pub ageing_time: u64,
    /// `stp_enabled != BR_NO_STP`.
    pub stp_enabled: bool,
    /// `group_fwd_mask`: which 01:80:c2:00:00:0X groups are forwarded.
    pub group_fwd_mask: u16,
}

impl Default for NetBridge {
    fn default() -> Self {
        NetBridge {
            ports: Vec::new(),
            fdb: Vec::new(),
            ageing_time: BR_DEFAULT_AGEING_TIME,
            stp_enabled: false,
            group_fwd_mask: 0,
        }
    }
}

/// Kernel: `struct nf_bridge_info` (`skb->nf_bridge`): set on a frame that
/// br_netfilter passed to the IPv4 hooks; what `-m physdev` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NfBridgeInfo {
    /// `physindev`: the port the frame came in on.
    pub physindev: IfIndex,
    /// `physoutdev`: the port it leaves by (0 before FORWARD, or when it is
    /// delivered to the host).
    pub physoutdev: IfIndex,
    /// `sabotage_in_done`-style marker: the IPv4 PRE_ROUTING hook already ran
    /// in the bridge, so `ip_rcv` on the bridge device skips it
    /// (`ip_sabotage_in`).
    pub prerouting_done: bool,
}

/// `is_link_local_ether_addr`: 01:80:c2:00:00:0X.
pub fn is_link_local_ether_addr(a: &[u8; 6]) -> bool {
    a[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && a[5] & 0xf0 == 0
}

/// `is_multicast_ether_addr` (broadcast included).
pub fn is_multicast_ether_addr(a: &[u8; 6]) -> bool {
    a[0] & 1 != 0
}

/// `is_broadcast_ether_addr`.
pub fn is_broadcast_ether_addr(a: &[u8; 6]) -> bool {
    *a == [0xff; 6]
}

/// `is_valid_ether_addr`: not multicast and not all zeros.
pub fn is_valid_ether_addr(a: &[u8; 6]) -> bool {
    !is_multicast_ether_addr(a) && *a != [0; 6]
}
