//! Models `struct net`: one network namespace with its devices, FIB tables,
//! policy rules, sysctls and counters. The host loaders build it through the
//! configuration methods here, which behave as the kernel does when the same
//! configuration is applied (`ip link`, `ip addr`, `ip route`, `ip rule`,
//! `sysctl -w`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use thiserror::Error;

use crate::core::fib_rules::FibRule;
use crate::ipv4::devinet::{DevconfKey, IfaFlags, InDevice, InIfaddr, Ipv4Devconf, prefix_mask};
use crate::ipv4::fib_semantics::{FibInfo, FibInfoId, FibNh, fib_rebalance};
use crate::ipv4::fib_trie::{FibAlias, FibTable};
use crate::ipv4::snmp::{IpMib, RtCacheStat};
use crate::sysctl::NetSysctl;
use crate::uapi::{DevFlags, LinkType, RouteType, RtProt, RtScope, RtnhFlags};

/// A device index (`ifindex`), as `ip link` numbers devices. 0 means none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IfIndex(pub u32);

/// `LOOPBACK_IFINDEX`: the loopback device of every namespace is 1.
pub const LOOPBACK_IFINDEX: IfIndex = IfIndex(1);

/// The well-known table ids (`RT_TABLE_*`).
pub mod rt_table {
    /// `RT_TABLE_UNSPEC`
    pub const RT_TABLE_UNSPEC: u32 = 0;
    /// `RT_TABLE_COMPAT`
    pub const RT_TABLE_COMPAT: u32 = 252;
    /// `RT_TABLE_DEFAULT`
    pub const RT_TABLE_DEFAULT: u32 = 253;
    /// `RT_TABLE_MAIN`
    pub const RT_TABLE_MAIN: u32 = 254;
    /// `RT_TABLE_LOCAL`
    pub const RT_TABLE_LOCAL: u32 = 255;
}
use rt_table::*;

/// Kernel: `struct net_device` (the part the IPv4 path reads).
#[derive(Clone, Debug)]
pub struct NetDevice {
    /// `name`.
    pub name: String,
    /// `ifindex`.
    pub ifindex: IfIndex,
    /// `flags` (`IFF_*`).
    pub flags: DevFlags,
    /// `mtu`.
    pub mtu: u32,
    /// `dev_addr`: the MAC address.
    pub dev_addr: [u8; 6],
    /// `broadcast`: the link-layer broadcast address.
    pub broadcast: [u8; 6],
    /// `type`: the link type.
    pub link_type: LinkType,
    /// `group`: the device group (`ip link set group`).
    pub group: u32,
    /// Carrier is up (`netif_carrier_ok`); false makes next hops `linkdown`.
    pub carrier: bool,
    /// `ip_ptr`: the IPv4 state; none when IPv4 is off (MTU below 68).
    pub ip_ptr: Option<InDevice>,
    /// What kind of device it is (`ip -d link`'s `linkinfo.info_kind`).
    pub kind: DevKind,
    /// `master`: the bridge this device is a port of (`ip link set DEV master BR`).
    pub master: Option<IfIndex>,
    /// `rx_handler_data` of a bridge port: its state and flags. Set with
    /// `master` by [`Netns::br_add_if`].
    pub brport: Option<Box<crate::bridge::NetBridgePort>>,
}

/// Which namespace a veth's peer is in, as the snapshot names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerNetns {
    /// The same namespace.
    Same,
    /// `link_netnsid` of `ip -j link`: the peer namespace's id as this one sees it.
    Id(i32),
    /// A namespace of the topology by name.
    Name(String),
}

/// A veth's peer (`ip -j link`: `link_index`, `link_netnsid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VethPeer {
    /// The peer's namespace.
    pub netns: PeerNetns,
    /// The peer's ifindex in its namespace.
    pub ifindex: IfIndex,
}

/// Kernel: the device's type as its driver makes it (`rtnl_link_ops->kind`,
/// `IFF_EBRIDGE`): what happens to a frame sent on it.
#[derive(Clone, Debug, Default)]
pub enum DevKind {
    /// A physical (or unknown) Ethernet device: a frame sent leaves the host.
    #[default]
    Ether,
    /// `lo`.
    Loopback,
    /// One end of a veth pair (drivers/net/veth.c): a frame sent is received
    /// by the peer. Which device the peer is, in a topology, comes from the
    /// topology's links; this is what the snapshot said.
    Veth {
        /// The peer, when the snapshot knows it.
        peer: Option<VethPeer>,
    },
    /// A bridge (net/bridge): its ports, FDB and ageing time.
    Bridge(Box<crate::bridge::NetBridge>),
}

impl DevKind {
    /// The kind `ip -d link` names (`linkinfo.info_kind`): a bridge (with
    /// the kernel's defaults until its ports are added), a veth (peer not
    /// known yet), anything else Ethernet.
    pub fn from_info_kind(kind: Option<&str>) -> DevKind {
        match kind {
            Some("bridge") => DevKind::Bridge(Box::default()),
            Some("veth") => DevKind::Veth { peer: None },
            _ => DevKind::Ether,
        }
    }
}

impl NetDevice {
    /// Whether the device is administratively up.
    pub fn is_up(&self) -> bool {
        self.flags.contains(DevFlags::IFF_UP)
    }

    /// Whether this is a loopback device.
    pub fn is_loopback(&self) -> bool {
        self.flags.contains(DevFlags::IFF_LOOPBACK)
    }

    /// `netif_is_bridge_master`: the bridge's state when this is a bridge.
    pub fn bridge(&self) -> Option<&crate::bridge::NetBridge> {
        match &self.kind {
            DevKind::Bridge(b) => Some(b),
            _ => None,
        }
    }

    /// The bridge's state, mutably.
    pub fn bridge_mut(&mut self) -> Option<&mut crate::bridge::NetBridge> {
        match &mut self.kind {
            DevKind::Bridge(b) => Some(b),
            _ => None,
        }
    }

    /// `netif_is_bridge_port`: the device is a port of a bridge.
    pub fn is_bridge_port(&self) -> bool {
        self.master.is_some() && self.brport.is_some()
    }
}

impl Netns {
    /// Kernel: `netif_is_bridge_master` (`IFF_EBRIDGE`): whether `dev` is a
    /// bridge (the loaders make a master of unknown kind one, unless its
    /// ports say `bond` or `team`).
    pub fn netif_is_bridge_master(&self, dev: IfIndex) -> bool {
        self.dev(dev).is_some_and(|d| d.bridge().is_some())
    }

    /// Kernel: `netif_is_bridge_port` with `netdev_master_upper_dev_get`:
    /// the bridge `dev` is a port of, if it is one.
    pub fn br_port_master(&self, dev: IfIndex) -> Option<IfIndex> {
        let m = self.dev(dev)?.master?;
        self.netif_is_bridge_master(m).then_some(m)
    }
}

/// An error applying configuration to the model (bad input to the tool, not
/// a packet's fate).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Two devices with one ifindex.
    #[error("duplicate ifindex {0}")]
    DuplicateIfindex(u32),
    /// Two devices with one name.
    #[error("duplicate device name {0:?}")]
    DuplicateName(String),
    /// A name that is no device of the host.
    #[error("unknown device {0:?}")]
    UnknownDevice(String),
    /// An ifindex that is no device of the host.
    #[error("unknown ifindex {0}")]
    UnknownIfindex(u32),
    /// `master` names a device that is no bridge.
    #[error("device {0:?} is not a bridge")]
    NotABridge(String),
    /// The device has IPv4 disabled.
    #[error("device {0:?} has no IPv4 configuration (MTU below 68)")]
    NoInDevice(String),
    /// A sysctl key that the model does not know.
    #[error("unknown sysctl key {0:?}")]
    UnknownSysctl(String),
    /// A sysctl that cannot be written.
    #[error("sysctl {0:?} is read-only")]
    ReadOnlySysctl(String),
    /// The kernel would refuse the address.
    #[error("address {0}: {1}")]
    Address(String, &'static str),
    /// The kernel would refuse the route.
    #[error("route {0}: {1}")]
    Route(String, &'static str),
    /// The kernel would refuse the rule.
    #[error("rule {0}: {1}")]
    Rule(String, &'static str),
}

/// A route to add: the arguments of `ip route add` after parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Table id (main when not given).
    pub table: u32,
    /// Route type.
    pub rt_type: RouteType,
    /// Destination prefix.
    pub dst: Ipv4Addr,
    /// Prefix length.
    pub dst_len: u8,
    /// `tos`/`dsfield` (0 = any).
    pub tos: u8,
    /// `metric`.
    pub priority: u32,
    /// `proto`.
    pub protocol: RtProt,
    /// `scope`; None = the kernel's default for the type and next hops.
    pub scope: Option<RtScope>,
    /// `src`.
    pub prefsrc: Option<Ipv4Addr>,
    /// `mtu` metric (0 = none) and `mtu lock`.
    pub mtu: u32,
    /// Whether the MTU metric is locked.
    pub mtu_locked: bool,
    /// Next hops: (gateway, device, weight, flags such as onlink/dead/linkdown).
    pub nexthops: Vec<NexthopSpec>,
}

/// One next hop of a `RouteSpec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NexthopSpec {
    /// `via`.
    pub gw: Option<Ipv4Addr>,
    /// `dev`.
    pub dev: Option<IfIndex>,
    /// `weight` (1..=256).
    pub weight: u32,
    /// `onlink`, and for snapshots the `dead`/`linkdown` flags as the kernel reported them.
    pub flags: RtnhFlags,
}

impl RouteSpec {
    /// A route of `rt_type` to `dst/len` in the main table, with no next hop.
    pub fn new(rt_type: RouteType, dst: Ipv4Addr, dst_len: u8) -> Self {
        RouteSpec {
            table: RT_TABLE_MAIN,
            rt_type,
            dst,
            dst_len,
            tos: 0,
            priority: 0,
            protocol: RtProt::RTPROT_BOOT,
            scope: None,
            prefsrc: None,
            mtu: 0,
            mtu_locked: false,
            nexthops: Vec::new(),
        }
    }
}

/// The FIB of a namespace: tables, policy rules and the route arena.
#[derive(Clone, Debug, Default)]
pub struct Fib {
    /// Tables by id (`fib_get_table`).
    pub tables: BTreeMap<u32, FibTable>,
    /// Policy rules in the kernel's order (ascending pref, then insertion).
    pub rules: Vec<FibRule>,
    /// `fib_has_custom_rules`: set by the first rule added, never cleared.
    pub has_custom_rules: bool,
    /// `fib_has_custom_local_routes`: a `local` route was added by a user.
    pub has_custom_local_routes: bool,
    /// Every `fib_info`, indexed by `FibInfoId`.
    pub infos: Vec<FibInfo>,
    /// `fib_info_hash`: routes with the same attributes share one fib_info
    /// (`fib_find_info`), and so its next hops' cached input routes.
    pub info_hash: std::collections::HashMap<FibInfoKey, FibInfoId>,
}

/// What makes two routes' fib_info the same (`fib_find_info`): protocol,
/// scope, type, metric, preferred source, MTU metric and next hops.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FibInfoKey {
    table: u32,
    protocol: u8,
    scope: u8,
    rt_type: u8,
    priority: u32,
    prefsrc: Option<Ipv4Addr>,
    mtu: (u32, bool),
    nhs: Vec<(u32, Option<Ipv4Addr>, u32, u32)>,
}

impl Fib {
    /// `fib_get_table`.
    pub fn table(&self, id: u32) -> Option<&FibTable> {
        self.tables.get(&id)
    }

    /// The fib_info behind an id.
    #[inline]
    pub fn info(&self, id: FibInfoId) -> &FibInfo {
        &self.infos[id.0 as usize]
    }

    /// The fib_info behind an id, mutably.
    #[inline]
    pub fn info_mut(&mut self, id: FibInfoId) -> &mut FibInfo {
        &mut self.infos[id.0 as usize]
    }
}

/// Kernel: the core receive counters of a `net_device` that this path
/// touches (`dev_core_stats`, `rx_otherhost_dropped`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevStats {
    /// `rx_dropped`: frames no protocol handler took (`UNHANDLED_PROTO`).
    pub rx_dropped: u64,
    /// `rx_otherhost_dropped`: frames for another host's MAC
    /// (`ip -s -s link`: otherhost).
    pub rx_otherhost_dropped: u64,
}

/// Kernel: `struct net`: one network namespace.
#[derive(Clone, Debug)]
pub struct Netns {
    /// Devices in ifindex order.
    pub devices: Vec<NetDevice>,
    /// `devconf_all`: `net.ipv4.conf.all.*`.
    pub devconf_all: Ipv4Devconf,
    /// `devconf_dflt`: `net.ipv4.conf.default.*`.
    pub devconf_dflt: Ipv4Devconf,
    /// The other `net.ipv4.*` sysctls.
    pub sysctl: NetSysctl,
    /// The FIB.
    pub fib: Fib,
    /// `/proc/net/snmp` and `/proc/net/netstat` counters.
    pub mib: IpMib,
    /// `/proc/net/stat/rt_cache`.
    pub rt_cache_stat: RtCacheStat,
    /// `rt_genid`: bumped by `rt_cache_flush`; cached routes of an older generation are stale.
    pub rt_genid: u32,
    /// The ARP table.
    pub neigh: Vec<crate::core::neighbour::Neighbour>,
    /// Frames sent while handling the current packet.
    pub tx: crate::core::tx::TxQueue,
    /// Per-source rate-limit state (`net->ipv4.peers`).
    pub peers: crate::ipv4::inetpeer::InetPeers,
    /// The clock: `jiffies` at the current packet (HZ = 250).
    pub jiffies: u64,
    /// The wall clock at the current packet (ns since the Unix epoch), for
    /// the IP timestamp option.
    pub wall_ns: i128,
    /// `icmp_global_credit`.
    pub icmp_global_credit: i64,
    /// `icmp_global_stamp` (jiffies).
    pub icmp_global_stamp: u64,
    /// Per-device receive counters (`ip -s -s link`).
    pub dev_stats: BTreeMap<IfIndex, DevStats>,
    /// A reusable buffer for packets the host builds itself.
    pub scratch: Vec<u8>,
    /// Sockets bound on this host (`ss -lun`, `ss -ltn`): what a datagram or
    /// segment for this host can be delivered to.
    pub sockets: Vec<Socket>,
    /// IPv4 reassembly queues (`net->ipv4.fqdir`).
    pub frags: crate::ipv4::ip_fragment::FragQueues,
    /// A reusable buffer for reassembled datagrams.
    pub reasm: Vec<u8>,
    /// Packets waiting for their next hop's ARP answer (every entry's
    /// `arp_queue`, oldest first).
    pub arp_queue: Vec<crate::core::neighbour::QueuedSkb>,
    /// The socket the sending system call holds (`lock_sock` in a TCP
    /// `connect`): ICMP errors about it that arrive while the call runs
    /// (veth delivers synchronously) count `LockDroppedIcmps`, and a
    /// redirect is not taken. (protocol, address, port).
    pub sock_owned: Option<(u8, Ipv4Addr, u16)>,
    /// A neighbour resolves with no packet queued (`neigh_event_send` from
    /// an ICMP redirect): its timer must run although `arp_queue` is empty.
    pub neigh_probing: bool,
    /// Next-hop exceptions (`fib_nh_exception`): the gateways ICMP
    /// redirects taught, per next hop and destination.
    pub fnhe: Vec<crate::ipv4::route::FibNhException>,
    /// Fates of waiting packets decided since the caller last took them.
    pub settled: Vec<crate::core::neighbour::Settled>,
    /// The number of the packet being received (counts every received frame).
    pub rx_seq: u64,
    /// Whether the packet being received was queued for its next hop.
    pub rx_queued: bool,
    /// Buffers of packets that left `arp_queue`, for the next ones.
    pub skb_pool: Vec<Vec<u8>>,
    /// The ARP request of the frame being received that `arp_process` left
    /// unanswered, and why.
    pub arp_ignored: Option<crate::core::neighbour::ArpIgnored>,
    /// `icmp_xmit_lock` is held: the ICMP socket is sending (an echo reply,
    /// an error), so no ICMP error can be sent about what it sends.
    pub icmp_xmit_lock: bool,
    /// Netfilter: None on a host without rules (each hook is one check).
    pub nf: Option<Box<crate::netfilter::Netfilter>>,
    /// Whether the snapshot recorded the host's netfilter state.
    pub nf_recorded: bool,
}

impl Default for Netns {
    fn default() -> Self {
        Self::new()
    }
}

impl Netns {
    /// An empty namespace with no device at all (a snapshot brings its own `lo`).
    pub fn new() -> Self {
        Netns {
            devices: Vec::new(),
            devconf_all: Ipv4Devconf::all_defaults(),
            devconf_dflt: Ipv4Devconf::dflt_defaults(),
            sysctl: NetSysctl::default(),
            fib: Fib::default(),
            mib: IpMib::default(),
            rt_cache_stat: RtCacheStat::default(),
            rt_genid: 0,
            neigh: Vec::new(),
            tx: Default::default(),
            peers: Default::default(),
            jiffies: 0,
            wall_ns: 0,
            icmp_global_credit: 50,
            icmp_global_stamp: 0,
            dev_stats: BTreeMap::new(),
            scratch: Vec::with_capacity(2048),
            frags: Default::default(),
            reasm: Vec::new(),
            sockets: Vec::new(),
            arp_queue: Vec::new(),
            neigh_probing: false,
            sock_owned: None,
            fnhe: Vec::new(),
            settled: Vec::new(),
            rx_seq: 0,
            rx_queued: false,
            skb_pool: Vec::new(),
            arp_ignored: None,
            icmp_xmit_lock: false,
            nf: None,
            nf_recorded: true,
        }
    }

    /// A fresh namespace whose `lo` is up with 127.0.0.1/8 and the kernel's
    /// routes for it, as after `ip link set lo up`.
    pub fn with_loopback() -> Self {
        let mut ns = Netns::new();
        let lo = NetDevice {
            name: "lo".into(),
            ifindex: LOOPBACK_IFINDEX,
            flags: DevFlags(
                DevFlags::IFF_UP.0
                    | DevFlags::IFF_LOOPBACK.0
                    | DevFlags::IFF_RUNNING.0
                    | DevFlags::IFF_LOWER_UP.0,
            ),
            mtu: 65536,
            dev_addr: [0; 6],
            broadcast: [0; 6],
            link_type: LinkType::Loopback,
            group: 0,
            carrier: true,
            ip_ptr: None,
            kind: DevKind::Loopback,
            master: None,
            brport: None,
        };
        ns.register_netdev(lo)
            .expect("the first device cannot clash");
        let ifa = InIfaddr {
            ifa_local: Ipv4Addr::new(127, 0, 0, 1),
            ifa_address: Ipv4Addr::new(127, 0, 0, 1),
            ifa_prefixlen: 8,
            ifa_broadcast: Ipv4Addr::UNSPECIFIED,
            ifa_scope: RtScope::RT_SCOPE_HOST,
            ifa_flags: IfaFlags::IFA_F_PERMANENT,
            ifa_label: None,
            ifa_rt_priority: 0,
        };
        ns.inet_insert_ifa(LOOPBACK_IFINDEX, ifa, true)
            .expect("lo exists");
        ns
    }

    // ---- devices ---------------------------------------------------------

    /// The device with this ifindex (`dev_get_by_index`).
    #[inline]
    pub fn dev(&self, ifindex: IfIndex) -> Option<&NetDevice> {
        // Devices are few and sorted: a binary search beats hashing here.
        self.devices
            .binary_search_by_key(&ifindex, |d| d.ifindex)
            .ok()
            .map(|i| &self.devices[i])
    }

    /// The device with this ifindex, mutably.
    pub fn dev_mut(&mut self, ifindex: IfIndex) -> Option<&mut NetDevice> {
        self.devices
            .binary_search_by_key(&ifindex, |d| d.ifindex)
            .ok()
            .map(move |i| &mut self.devices[i])
    }

    /// The device with this name (`dev_get_by_name`).
    pub fn dev_by_name(&self, name: &str) -> Option<&NetDevice> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// Kernel: `br_add_if` (`ip link set PORT master BR`): `port` becomes a
    /// port of the bridge `br`, first in its port list, with the default
    /// port state (forwarding: no STP) and flags. The FDB's local entries for
    /// the bridge's and the ports' own addresses need not be added: the
    /// lookup knows them (`br_fdb::br_fdb_find`).
    pub fn br_add_if(&mut self, br: IfIndex, port: IfIndex) -> Result<(), ConfigError> {
        if self.dev(port).is_none() {
            return Err(ConfigError::UnknownIfindex(port.0));
        }
        let name = self.dev_name(br).to_string();
        let bridge = self
            .dev_mut(br)
            .ok_or(ConfigError::UnknownIfindex(br.0))?
            .bridge_mut()
            .ok_or(ConfigError::NotABridge(name))?;
        bridge.ports.retain(|&p| p != port);
        bridge.ports.insert(0, port);
        let port_no = bridge.ports.len() as u16;
        let d = self.dev_mut(port).expect("checked above");
        d.master = Some(br);
        d.brport = Some(Box::new(crate::bridge::NetBridgePort {
            port_no,
            ..Default::default()
        }));
        Ok(())
    }

    /// The name of a device, or `?` for an unknown index (for printing).
    pub fn dev_name(&self, ifindex: IfIndex) -> &str {
        self.dev(ifindex).map(|d| d.name.as_str()).unwrap_or("?")
    }

    /// `__in_dev_get_rcu`: a device's IPv4 state.
    #[inline]
    pub fn in_dev(&self, ifindex: IfIndex) -> Option<&InDevice> {
        self.dev(ifindex).and_then(|d| d.ip_ptr.as_ref())
    }

    /// The loopback device's index (`net->loopback_dev`).
    pub fn loopback_ifindex(&self) -> IfIndex {
        self.devices
            .iter()
            .find(|d| d.is_loopback())
            .map(|d| d.ifindex)
            .unwrap_or(LOOPBACK_IFINDEX)
    }

    /// Kernel: `register_netdevice` + `inetdev_init`: adds a device; it gets an
    /// in_device copying `conf.default` unless its MTU is below 68. A device
    /// that is up joins the all-hosts group 224.0.0.1 (`ip_mc_up`).
    pub fn register_netdev(&mut self, mut dev: NetDevice) -> Result<IfIndex, ConfigError> {
        if self.dev(dev.ifindex).is_some() {
            return Err(ConfigError::DuplicateIfindex(dev.ifindex.0));
        }
        if self.dev_by_name(&dev.name).is_some() {
            return Err(ConfigError::DuplicateName(dev.name));
        }
        if dev.ip_ptr.is_none() && dev.mtu >= 68 {
            let mut idev = InDevice::new(&self.devconf_dflt);
            if dev.is_loopback() {
                // inetdev_init: no IPsec policy or transformation on loopback.
                for k in [DevconfKey::NOXFRM, DevconfKey::NOPOLICY] {
                    idev.cnf.set(k, 1);
                    idev.cnf.mark_set(k);
                }
            }
            if dev.is_up() {
                idev.mc_list.push(Ipv4Addr::new(224, 0, 0, 1));
            }
            dev.ip_ptr = Some(idev);
        }
        let ifindex = dev.ifindex;
        self.dev_stats.insert(ifindex, DevStats::default());
        let pos = self.devices.partition_point(|d| d.ifindex < ifindex);
        self.devices.insert(pos, dev);
        Ok(ifindex)
    }

    /// The next free ifindex (`dev_new_index`).
    pub fn next_ifindex(&self) -> IfIndex {
        IfIndex(self.devices.iter().map(|d| d.ifindex.0).max().unwrap_or(0) + 1)
    }

    // ---- addresses -------------------------------------------------------

    /// Kernel: `__inet_insert_ifa`: adds an address to a device. An address in
    /// the subnet of an existing one (same mask) becomes secondary. Every
    /// devconf value of the device counts as set from now on
    /// (`ipv4_devconf_setall`). With `kernel_routes`, the kernel's
    /// `fib_add_ifaddr` routes are added too (a TOML host); a snapshot
    /// already holds them.
    pub fn inet_insert_ifa(
        &mut self,
        ifindex: IfIndex,
        mut ifa: InIfaddr,
        kernel_routes: bool,
    ) -> Result<(), ConfigError> {
        let dev = self
            .dev_mut(ifindex)
            .ok_or(ConfigError::UnknownIfindex(ifindex.0))?;
        let name = dev.name.clone();
        let idev = dev.ip_ptr.as_mut().ok_or(ConfigError::NoInDevice(name))?;
        // __inet_insert_ifa: same subnet and mask as an existing address:
        // the same address is EEXIST, another scope EINVAL, else secondary.
        let mut is_secondary = false;
        let mut last_primary = 0;
        for (i, o) in idev.ifa_list.iter().enumerate() {
            if !o.is_secondary() && ifa.ifa_scope <= o.ifa_scope {
                last_primary = i + 1;
            }
            if o.ifa_prefixlen == ifa.ifa_prefixlen && ifa.matches(o.ifa_address) {
                if o.ifa_local == ifa.ifa_local {
                    return Err(ConfigError::Address(
                        ifa.ifa_local.to_string(),
                        "File exists",
                    ));
                }
                if o.ifa_scope != ifa.ifa_scope {
                    return Err(ConfigError::Address(
                        ifa.ifa_local.to_string(),
                        "Invalid argument",
                    ));
                }
                is_secondary = true;
            }
        }
        if is_secondary {
            ifa.ifa_flags.0 |= IfaFlags::IFA_F_SECONDARY.0;
        }
        // Primaries are kept in scope order (host before link before
        // global), each after the last one of its scope; secondaries last.
        let pos = if is_secondary {
            idev.ifa_list.len()
        } else {
            last_primary
        };
        idev.ifa_list.insert(pos, ifa.clone());
        idev.cnf.setall();
        self.rt_cache_flush();
        if kernel_routes {
            crate::ipv4::fib_frontend::fib_add_ifaddr(self, ifindex, &ifa);
        }
        Ok(())
    }

    // ---- routes ----------------------------------------------------------

    /// Kernel: `fib_table_insert` via `ip route add` (or a snapshot's route):
    /// creates the table if needed and adds the route, keeping the kernel's
    /// order of routes that share a prefix. An existing route with the same
    /// prefix, TOS and metric is `EEXIST` (`File exists`) unless `append`.
    pub fn fib_table_insert(&mut self, spec: &RouteSpec, append: bool) -> Result<(), ConfigError> {
        let desc = || format!("{}/{} table {}", spec.dst, spec.dst_len, spec.table);
        let (_, type_scope) = crate::ipv4::fib_semantics::fib_props(spec.rt_type);
        let scope = spec.scope.unwrap_or(match spec.rt_type {
            RouteType::RTN_LOCAL => RtScope::RT_SCOPE_HOST,
            RouteType::RTN_BROADCAST | RouteType::RTN_ANYCAST => RtScope::RT_SCOPE_LINK,
            RouteType::RTN_UNICAST
                if spec.nexthops.iter().all(|n| n.gw.is_none()) && !spec.nexthops.is_empty() =>
            {
                RtScope::RT_SCOPE_LINK
            }
            _ => {
                let _ = type_scope;
                RtScope::RT_SCOPE_UNIVERSE
            }
        });
        let mut nhs = Vec::with_capacity(spec.nexthops.len());
        for nh in &spec.nexthops {
            // fib_check_nh_v4_gw: a gateway (not onlink) must be reached by a
            // link- or host-scope route; the next hop takes that route's scope
            // (host when the gateway is one of our addresses) and device.
            let onlink = nh.flags.contains(RtnhFlags::RTNH_F_ONLINK);
            let mut gw_scope = None;
            let mut unresolved = false;
            let dev = match (nh.gw, nh.dev) {
                (Some(gw), d) if !onlink && scope != RtScope::RT_SCOPE_HOST => {
                    match self.fib_check_nh_gw(gw, d, spec.table, scope) {
                        Some((sc, rdev)) => {
                            gw_scope = Some(sc);
                            d.unwrap_or(rdev)
                        }
                        None => match d {
                            // A snapshot may list a route before the one that
                            // resolves its gateway: keep the device given.
                            Some(d) => {
                                unresolved = true;
                                d
                            }
                            None => {
                                return Err(ConfigError::Route(
                                    desc(),
                                    "Nexthop has invalid gateway",
                                ));
                            }
                        },
                    }
                }
                (_, Some(d)) => d,
                (Some(gw), None) => self
                    .gateway_dev(gw, spec.table)
                    .ok_or_else(|| ConfigError::Route(desc(), "Nexthop has invalid gateway"))?,
                (None, None) => {
                    return Err(ConfigError::Route(
                        desc(),
                        "a next hop needs a device or a gateway",
                    ));
                }
            };
            let d = self.dev(dev).ok_or(ConfigError::UnknownIfindex(dev.0))?;
            let mut fnh = FibNh::new(dev, nh.gw);
            fnh.nh_weight = nh.weight.clamp(1, 256);
            fnh.nh_flags = nh.flags;
            fnh.nh_unresolved = unresolved;
            if onlink {
                fnh.nh_scope = RtScope::RT_SCOPE_LINK;
            } else if let Some(sc) = gw_scope {
                fnh.nh_scope = sc;
            } else if let Some(gw) = nh.gw
                && self.inet_addr_type_is_local(gw)
            {
                fnh.nh_scope = RtScope::RT_SCOPE_HOST;
            }
            if scope == RtScope::RT_SCOPE_HOST {
                // Host-scope routes (local) are not checked: their next hop
                // has scope nowhere and is never flagged dead or linkdown.
                fnh.nh_scope = RtScope::RT_SCOPE_NOWHERE;
            } else {
                if !d.carrier && d.is_up() {
                    fnh.nh_flags.0 |= RtnhFlags::RTNH_F_LINKDOWN.0;
                }
                if !d.is_up() {
                    fnh.nh_flags.0 |= RtnhFlags::RTNH_F_DEAD.0 | RtnhFlags::RTNH_F_LINKDOWN.0;
                }
            }
            nhs.push(fnh);
        }

        for nh in nhs.iter_mut() {
            nh.nh_saddr = crate::ipv4::devinet::inet_select_addr(
                self,
                nh.nh_dev,
                nh.nh_gw.unwrap_or(Ipv4Addr::UNSPECIFIED),
                scope,
            );
        }
        let mut fi = FibInfo {
            fib_tb_id: spec.table,
            fib_protocol: spec.protocol,
            fib_scope: scope,
            fib_type: spec.rt_type,
            fib_priority: spec.priority,
            fib_prefsrc: spec.prefsrc,
            fib_flags: RtnhFlags(0),
            fib_dead: false,
            fib_mtu: spec.mtu,
            fib_mtu_locked: spec.mtu_locked,
            fib_nh: nhs,
        };
        if !fi.fib_nh.is_empty()
            && fi
                .fib_nh
                .iter()
                .all(|n| n.nh_flags.contains(RtnhFlags::RTNH_F_DEAD))
        {
            fi.fib_flags.0 |= RtnhFlags::RTNH_F_DEAD.0;
        }
        let devconf_all = self.devconf_all.data[DevconfKey::IGNORE_ROUTES_WITH_LINKDOWN as usize];
        let ignores: Vec<(IfIndex, bool)> = self
            .devices
            .iter()
            .map(|d| {
                let v = d
                    .ip_ptr
                    .as_ref()
                    .map(|i| i.cnf.get(DevconfKey::IGNORE_ROUTES_WITH_LINKDOWN))
                    .unwrap_or(0);
                (d.ifindex, v != 0 || devconf_all != 0)
            })
            .collect();
        fib_rebalance(&mut fi, |nh| {
            if nh.nh_flags.contains(RtnhFlags::RTNH_F_DEAD) {
                return false;
            }
            let ign = ignores
                .iter()
                .find(|(i, _)| *i == nh.nh_dev)
                .map(|(_, v)| *v)
                .unwrap_or(false);
            !(ign && nh.nh_flags.contains(RtnhFlags::RTNH_F_LINKDOWN))
        });
        let id = FibInfoId(self.fib.infos.len() as u32);
        let alias = FibAlias {
            fa_dscp: spec.tos & 0xfc,
            fa_type: spec.rt_type,
            tb_id: spec.table,
            fa_info: id,
        };
        let prio = fi.fib_priority;
        self.fib.infos.push(fi);
        let table = self
            .fib
            .tables
            .entry(spec.table)
            .or_insert_with(|| FibTable::new(spec.table));
        let r = table.insert(spec.dst, spec.dst_len, alias, prio, &self.fib.infos, append);
        if r.is_err() {
            self.fib.infos.pop();
            return Err(ConfigError::Route(desc(), "File exists"));
        }
        self.rt_cache_flush();
        Ok(())
    }

    /// Kernel: the lookup of `fib_check_nh_v4_gw`: the gateway must lie in a
    /// route of link scope or narrower (in the route's table first, else
    /// through the rules), of type unicast or local; its scope and device
    /// become the next hop's.
    pub fn fib_check_nh_gw(
        &self,
        gw: Ipv4Addr,
        oif: Option<IfIndex>,
        table: u32,
        route_scope: RtScope,
    ) -> Option<(RtScope, IfIndex)> {
        use crate::flow::{FIB_LOOKUP_IGNORE_LINKSTATE, Flowi4};
        let mut fl4 = Flowi4::new(gw, Ipv4Addr::UNSPECIFIED);
        fl4.flowi4_scope = RtScope(
            route_scope
                .0
                .saturating_add(1)
                .max(RtScope::RT_SCOPE_LINK.0),
        );
        fl4.flowi4_oif = oif.unwrap_or(IfIndex(0));
        fl4.flowi4_iif = LOOPBACK_IFINDEX;
        let mut r = Err(crate::uapi::Errno::EAGAIN);
        if table != RT_TABLE_MAIN && self.fib.tables.contains_key(&table) {
            // Table local is main's trie while there are no custom rules.
            let merged = [RT_TABLE_LOCAL, RT_TABLE_MAIN];
            let ids: &[u32] = if table == RT_TABLE_LOCAL && !self.fib.has_custom_rules {
                &merged
            } else {
                std::slice::from_ref(&table)
            };
            r = crate::ipv4::fib_trie::fib_table_lookup(
                self,
                ids,
                table,
                &fl4,
                FIB_LOOKUP_IGNORE_LINKSTATE,
            );
        }
        if r.is_err() {
            r = crate::ipv4::fib_rules::fib_lookup(
                self,
                &fl4,
                FIB_LOOKUP_IGNORE_LINKSTATE,
                &mut crate::trace::NoTrace,
            );
        }
        let res = r.ok()?;
        if res.rt_type != RouteType::RTN_UNICAST && res.rt_type != RouteType::RTN_LOCAL {
            return None;
        }
        let dev = res
            .fi
            .and_then(|fi| self.fib.info(fi).fib_nh.get(res.nh_sel))
            .map(|nh| nh.nh_dev)?;
        Some((res.scope, dev))
    }

    /// Resolves the scope of the gateway next hops that could not be
    /// resolved when their route was added (`fib_check_nh_v4_gw`), once all
    /// routes are in: a snapshot lists routes in dump order, not in the order
    /// they were added. Resolved ones keep the scope they got, as in the kernel.
    pub fn fib_recheck_nexthops(&mut self) {
        let mut updates = Vec::new();
        for (i, fi) in self.fib.infos.iter().enumerate() {
            if fi.fib_scope == RtScope::RT_SCOPE_HOST {
                continue;
            }
            for (j, nh) in fi.fib_nh.iter().enumerate() {
                if let Some(gw) = nh.nh_gw
                    && nh.nh_unresolved
                    && !nh.nh_flags.contains(RtnhFlags::RTNH_F_ONLINK)
                    && let Some((sc, _)) =
                        self.fib_check_nh_gw(gw, Some(nh.nh_dev), fi.fib_tb_id, fi.fib_scope)
                {
                    updates.push((i, j, sc));
                }
            }
        }
        for (i, j, sc) in updates {
            self.fib.infos[i].fib_nh[j].nh_scope = sc;
            self.fib.infos[i].fib_nh[j].nh_unresolved = false;
            self.fib.infos[i].fib_nh[j].nh_rth_input = None;
        }
        self.rt_cache_flush();
    }

    /// The device through which `gw` is reached on a link (for `via` without `dev`).
    fn gateway_dev(&self, gw: Ipv4Addr, _table: u32) -> Option<IfIndex> {
        let mut best: Option<(u8, IfIndex)> = None;
        for d in &self.devices {
            if let Some(idev) = &d.ip_ptr {
                for a in &idev.ifa_list {
                    if a.matches(gw) && best.is_none_or(|(l, _)| a.ifa_prefixlen > l) {
                        best = Some((a.ifa_prefixlen, d.ifindex));
                    }
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// Whether `a` is one of the namespace's own addresses (`inet_lookup_ifaddr_rcu`).
    pub fn inet_lookup_ifaddr(&self, a: Ipv4Addr) -> Option<IfIndex> {
        // The kernel's address hash puts the newest address first, so with
        // one address on two devices the later one answers. A snapshot does
        // not record when each address was added; devices are searched from
        // the highest ifindex down, which is that order whenever addresses
        // were added device by device as the devices were created.
        self.devices.iter().rev().find_map(|d| {
            d.ip_ptr
                .as_ref()
                .filter(|i| i.ifa_list.iter().any(|x| x.ifa_local == a))
                .map(|_| d.ifindex)
        })
    }

    fn inet_addr_type_is_local(&self, a: Ipv4Addr) -> bool {
        self.inet_lookup_ifaddr(a).is_some()
    }

    // ---- rules -----------------------------------------------------------

    /// Kernel: `fib_nl_newrule`: inserts a rule after every rule of the same or
    /// lower pref, resolves `goto` targets, and marks the namespace as having
    /// custom rules. (`pref` 0 given as `None` takes the kernel's default:
    /// one below the lowest non-zero pref.)
    pub fn fib_rule_add(
        &mut self,
        mut rule: FibRule,
        pref: Option<u32>,
    ) -> Result<(), ConfigError> {
        rule.pref = match pref {
            Some(p) => p,
            None => {
                // fib_default_rule_pref: the pref of the second rule, minus one.
                match self.fib.rules.get(1) {
                    Some(r) if r.pref > 0 => r.pref - 1,
                    _ => 0,
                }
            }
        };
        if rule.action == crate::core::fib_rules::FibRuleAction::FR_ACT_GOTO
            && rule.target <= rule.pref
        {
            return Err(ConfigError::Rule(
                format!("pref {}", rule.pref),
                "Invalid argument",
            ));
        }
        let pos = self
            .fib
            .rules
            .iter()
            .position(|r| r.pref > rule.pref)
            .unwrap_or(self.fib.rules.len());
        self.fib.rules.insert(pos, rule);
        self.fib.has_custom_rules = true;
        self.resolve_rules();
        self.rt_cache_flush();
        Ok(())
    }

    /// Installs the three default rules (pref 0 local, 32766 main, 32767
    /// default) of a fresh namespace, without marking custom rules.
    pub fn fib_default_rules_init(&mut self) {
        use crate::core::fib_rules::FibRule;
        self.fib.rules = vec![
            FibRule::lookup(0, RT_TABLE_LOCAL),
            FibRule::lookup(32766, RT_TABLE_MAIN),
            FibRule::lookup(32767, RT_TABLE_DEFAULT),
        ];
    }

    /// Resolves every rule's device names to ifindexes and `goto` targets to
    /// positions (`ctarget`); called after devices or rules change.
    pub fn resolve_rules(&mut self) {
        let names: Vec<(String, IfIndex)> = self
            .devices
            .iter()
            .map(|d| (d.name.clone(), d.ifindex))
            .collect();
        let lookup = |n: &Option<String>| -> Option<IfIndex> {
            n.as_ref().map(|n| {
                names
                    .iter()
                    .find(|(m, _)| m == n)
                    .map(|(_, i)| *i)
                    .unwrap_or(IfIndex(u32::MAX))
            })
        };
        let prefs: Vec<u32> = self.fib.rules.iter().map(|r| r.pref).collect();
        for r in self.fib.rules.iter_mut() {
            r.iifindex = lookup(&r.iifname);
            r.oifindex = lookup(&r.oifname);
            r.ctarget = if r.action == crate::core::fib_rules::FibRuleAction::FR_ACT_GOTO {
                prefs.iter().position(|&p| p == r.target)
            } else {
                None
            };
        }
    }

    // ---- sysctls ---------------------------------------------------------

    /// `rt_cache_flush`: every cached route becomes stale.
    pub fn rt_cache_flush(&mut self) {
        self.rt_genid = self.rt_genid.wrapping_add(1);
    }

    /// Reads a sysctl by its full name (`net.ipv4.ip_forward`,
    /// `net.ipv4.conf.eth0.rp_filter`, ...).
    pub fn sysctl_get(&self, key: &str) -> Result<i64, ConfigError> {
        let key = normalize_key(key);
        if key == "net.ipv4.ip_forward" {
            return Ok(self.devconf_all.get(DevconfKey::FORWARDING) as i64);
        }
        if let Some(v) = self.sysctl.get(&key) {
            return Ok(v);
        }
        let (dev, k) = self.parse_conf_key(&key)?;
        Ok(match dev {
            ConfTarget::All => self.devconf_all.get(k),
            ConfTarget::Default => self.devconf_dflt.get(k),
            ConfTarget::Dev(i) => self.in_dev(i).map(|d| d.cnf.get(k)).unwrap_or(0),
        } as i64)
    }

    /// Sets a sysctl to a value as a snapshot recorded it: no propagation,
    /// no state change (`Sysctl values are taken as they are`).
    pub fn sysctl_set_raw(&mut self, key: &str, value: i64) -> Result<(), ConfigError> {
        let key = normalize_key(key);
        if key == "net.ipv4.ip_forward" {
            self.devconf_all.set(DevconfKey::FORWARDING, value as i32);
            return Ok(());
        }
        if self.sysctl.set(&key, value) {
            return Ok(());
        }
        let (dev, k) = self.parse_conf_key(&key)?;
        match dev {
            ConfTarget::All => self.devconf_all.set(k, value as i32),
            ConfTarget::Default => self.devconf_dflt.set(k, value as i32),
            ConfTarget::Dev(i) => {
                let name = self.dev_name(i).to_string();
                let idev = self
                    .dev_mut(i)
                    .and_then(|d| d.ip_ptr.as_mut())
                    .ok_or(ConfigError::NoInDevice(name))?;
                idev.cnf.set(k, value as i32);
            }
        }
        Ok(())
    }

    /// Kernel: a write to `/proc/sys/net/ipv4/...` (`sysctl -w KEY=VALUE`),
    /// with the propagation of `devinet_sysctl_forward` and `devinet_conf_proc`:
    /// a change of `ip_forward`/`conf.all.forwarding` rewrites every device's
    /// forwarding, `conf.default.forwarding` and `conf.all.accept_redirects`;
    /// a write to `conf.default.X` reaches every device whose X was never set.
    pub fn sysctl_write(&mut self, key: &str, value: i64) -> Result<(), ConfigError> {
        let key = normalize_key(key);
        if key == "net.ipv4.ip_forward" {
            return self.sysctl_write_conf(ConfTarget::All, DevconfKey::FORWARDING, value as i32);
        }
        if self.sysctl.set(&key, value) {
            return Ok(());
        }
        let (dev, k) = self.parse_conf_key(&key)?;
        if k == DevconfKey::MC_FORWARDING {
            return Err(ConfigError::ReadOnlySysctl(key));
        }
        self.sysctl_write_conf(dev, k, value as i32)
    }

    fn sysctl_write_conf(
        &mut self,
        target: ConfTarget,
        k: DevconfKey,
        v: i32,
    ) -> Result<(), ConfigError> {
        if k == DevconfKey::FORWARDING {
            match target {
                ConfTarget::All => {
                    let v = (v != 0) as i32;
                    if self.devconf_all.get(k) != v {
                        // inet_forward_change
                        self.devconf_all.set(k, v);
                        self.devconf_all
                            .set(DevconfKey::ACCEPT_REDIRECTS, (v == 0) as i32);
                        self.devconf_dflt.set(DevconfKey::FORWARDING, v);
                        for d in self.devices.iter_mut() {
                            if let Some(idev) = d.ip_ptr.as_mut() {
                                idev.cnf.set(k, v);
                                idev.cnf.mark_set(k);
                            }
                        }
                        self.rt_cache_flush();
                    }
                }
                ConfTarget::Default => self.devconf_dflt.set(k, v),
                ConfTarget::Dev(i) => {
                    let name = self.dev_name(i).to_string();
                    let idev = self
                        .dev_mut(i)
                        .and_then(|d| d.ip_ptr.as_mut())
                        .ok_or(ConfigError::NoInDevice(name))?;
                    let changed = idev.cnf.get(k) != v;
                    idev.cnf.set(k, v);
                    idev.cnf.mark_set(k);
                    if changed {
                        self.rt_cache_flush();
                    }
                }
            }
            return Ok(());
        }
        // devinet_conf_proc
        let old = match target {
            ConfTarget::All => self.devconf_all.get(k),
            ConfTarget::Default => self.devconf_dflt.get(k),
            ConfTarget::Dev(i) => self.in_dev(i).map(|d| d.cnf.get(k)).unwrap_or(0),
        };
        match target {
            ConfTarget::All => {
                self.devconf_all.set(k, v);
                self.devconf_all.mark_set(k);
            }
            ConfTarget::Default => {
                self.devconf_dflt.set(k, v);
                self.devconf_dflt.mark_set(k);
                // devinet_copy_dflt_conf
                for d in self.devices.iter_mut() {
                    if let Some(idev) = d.ip_ptr.as_mut()
                        && !idev.cnf.is_set(k)
                    {
                        idev.cnf.set(k, v);
                    }
                }
            }
            ConfTarget::Dev(i) => {
                let name = self.dev_name(i).to_string();
                let idev = self
                    .dev_mut(i)
                    .and_then(|d| d.ip_ptr.as_mut())
                    .ok_or(ConfigError::NoInDevice(name))?;
                idev.cnf.set(k, v);
                idev.cnf.mark_set(k);
            }
        }
        let flush = match k {
            DevconfKey::ACCEPT_LOCAL => old != 0 && v == 0,
            DevconfKey::ROUTE_LOCALNET => old != v,
            DevconfKey::BC_FORWARDING => old != v,
            DevconfKey::NOXFRM
            | DevconfKey::NOPOLICY
            | DevconfKey::PROMOTE_SECONDARIES
            | DevconfKey::DROP_UNICAST_IN_L2_MULTICAST => old != v,
            _ => false,
        };
        if flush && !matches!(target, ConfTarget::Default) {
            self.rt_cache_flush();
        }
        Ok(())
    }

    fn parse_conf_key(&self, key: &str) -> Result<(ConfTarget, DevconfKey), ConfigError> {
        let unknown = || ConfigError::UnknownSysctl(key.to_string());
        let rest = key.strip_prefix("net.ipv4.conf.").ok_or_else(unknown)?;
        let (dev, name) = rest.rsplit_once('.').ok_or_else(unknown)?;
        let k = DevconfKey::from_sysctl_name(name).ok_or_else(unknown)?;
        let target = match dev {
            "all" => ConfTarget::All,
            "default" => ConfTarget::Default,
            d => {
                // sysctl writes a '.' inside a device name as '/'.
                let d = d.replace('/', ".");
                ConfTarget::Dev(
                    self.dev_by_name(&d)
                        .ok_or(ConfigError::UnknownDevice(d.clone()))?
                        .ifindex,
                )
            }
        };
        Ok((target, k))
    }

    // ---- IN_DEV_* accessors ----------------------------------------------

    /// `IPV4_DEVCONF_ALL(net, k)`: the `conf.all` value.
    #[inline]
    pub fn conf_all(&self, k: DevconfKey) -> i32 {
        self.devconf_all.data[k as usize]
    }

    /// Kernel: `IN_DEV_FORWARD`: the device's own `forwarding` (not `all`).
    #[inline]
    pub fn in_dev_forward(&self, idev: &InDevice) -> bool {
        idev.cnf.get(DevconfKey::FORWARDING) != 0
    }

    /// Kernel: `IN_DEV_BFORWARD`: `bc_forwarding`, all AND device.
    #[inline]
    pub fn in_dev_bforward(&self, idev: &InDevice) -> bool {
        self.conf_all(DevconfKey::BC_FORWARDING) != 0
            && idev.cnf.get(DevconfKey::BC_FORWARDING) != 0
    }

    /// Kernel: `IN_DEV_MFORWARD`: `mc_forwarding`, all AND device.
    #[inline]
    pub fn in_dev_mforward(&self, idev: &InDevice) -> bool {
        self.conf_all(DevconfKey::MC_FORWARDING) != 0
            && idev.cnf.get(DevconfKey::MC_FORWARDING) != 0
    }

    /// Kernel: `IN_DEV_RPFILTER`: `rp_filter`, max(all, device).
    #[inline]
    pub fn in_dev_rpfilter(&self, idev: &InDevice) -> i32 {
        self.conf_all(DevconfKey::RP_FILTER)
            .max(idev.cnf.get(DevconfKey::RP_FILTER))
    }

    /// Kernel: `IN_DEV_SRC_VMARK`: `src_valid_mark`, all OR device.
    #[inline]
    pub fn in_dev_src_vmark(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::SRC_VMARK)
    }

    /// Kernel: `IN_DEV_ACCEPT_LOCAL`: `accept_local`, all OR device.
    #[inline]
    pub fn in_dev_accept_local(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::ACCEPT_LOCAL)
    }

    /// Kernel: `IN_DEV_NET_ROUTE_LOCALNET`: `route_localnet`, all OR device.
    #[inline]
    pub fn in_dev_route_localnet(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::ROUTE_LOCALNET)
    }

    /// Kernel: `IN_DEV_SOURCE_ROUTE`: `accept_source_route`, all AND device.
    #[inline]
    pub fn in_dev_source_route(&self, idev: &InDevice) -> bool {
        self.conf_all(DevconfKey::ACCEPT_SOURCE_ROUTE) != 0
            && idev.cnf.get(DevconfKey::ACCEPT_SOURCE_ROUTE) != 0
    }

    /// Kernel: `IN_DEV_TX_REDIRECTS`: `send_redirects`, all OR device.
    #[inline]
    pub fn in_dev_tx_redirects(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::SEND_REDIRECTS)
    }

    /// Kernel: `IN_DEV_SHARED_MEDIA`: `shared_media`, all OR device.
    #[inline]
    pub fn in_dev_shared_media(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::SHARED_MEDIA)
    }

    /// Kernel: `IN_DEV_LOG_MARTIANS`: `log_martians`, all OR device.
    #[inline]
    pub fn in_dev_log_martians(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::LOG_MARTIANS)
    }

    /// Kernel: `IN_DEV_PROXY_ARP_PVLAN`: the device's own `proxy_arp_pvlan`.
    #[inline]
    pub fn in_dev_proxy_arp_pvlan(&self, idev: &InDevice) -> bool {
        idev.cnf.get(DevconfKey::PROXY_ARP_PVLAN) != 0
    }

    /// Kernel: `IN_DEV_ORCONF(NOPOLICY)`: `disable_policy`, all OR device.
    #[inline]
    pub fn in_dev_nopolicy(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::NOPOLICY)
    }

    /// Kernel: `IN_DEV_ORCONF(NOXFRM)`: `disable_xfrm`, all OR device.
    #[inline]
    pub fn in_dev_noxfrm(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::NOXFRM)
    }

    /// Kernel: `IN_DEV_ORCONF(DROP_UNICAST_IN_L2_MULTICAST)`.
    #[inline]
    pub fn in_dev_drop_unicast_in_l2_multicast(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::DROP_UNICAST_IN_L2_MULTICAST)
    }

    /// Kernel: `IN_DEV_IGNORE_ROUTES_WITH_LINKDOWN`: all OR device.
    #[inline]
    pub fn in_dev_ignore_routes_with_linkdown(&self, idev: &InDevice) -> bool {
        self.or_conf(idev, DevconfKey::IGNORE_ROUTES_WITH_LINKDOWN)
    }

    /// `IN_DEV_ORCONF(idev, k)`: `conf.all` or the device's value is set.
    #[inline]
    pub fn or_conf(&self, idev: &InDevice, k: DevconfKey) -> bool {
        self.conf_all(k) != 0 || idev.cnf.get(k) != 0
    }

    /// `ip_ignore_linkdown(dev)`: whether next hops through this device are
    /// skipped while its link is down.
    #[inline]
    pub fn ip_ignore_linkdown(&self, dev: IfIndex) -> bool {
        self.in_dev(dev)
            .is_some_and(|i| self.in_dev_ignore_routes_with_linkdown(i))
    }

    /// The namespace's address for a mask test (`inet_ifa_match` over all devices).
    pub fn subnet_of(&self, dev: IfIndex, a: Ipv4Addr) -> bool {
        self.in_dev(dev)
            .is_some_and(|i| i.ifa_list.iter().any(|x| x.matches(a)))
    }
}

/// A bound socket: protocol (`IPPROTO_UDP` or `IPPROTO_TCP`), local
/// address (0.0.0.0 = any) and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Socket {
    /// 6 (TCP, listening) or 17 (UDP).
    pub protocol: u8,
    /// The bound address; 0.0.0.0 for all.
    pub addr: Ipv4Addr,
    /// The bound port.
    pub port: u16,
}

impl Netns {
    /// The socket a packet to `daddr:port` of `protocol` is delivered to
    /// (`__udp4_lib_lookup` / `__inet_lookup_listener`: an exact address
    /// before the wildcard).
    pub fn socket_lookup(&self, protocol: u8, daddr: Ipv4Addr, port: u16) -> Option<&Socket> {
        let mut m = self
            .sockets
            .iter()
            .filter(|s| s.protocol == protocol && s.port == port);
        m.clone()
            .find(|s| s.addr == daddr)
            .or_else(|| m.find(|s| s.addr.is_unspecified()))
    }
}

/// Which `ipv4_devconf` a `net.ipv4.conf.X.key` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConfTarget {
    All,
    Default,
    Dev(IfIndex),
}

/// Accepts `net/ipv4/conf/eth0/rp_filter` as `sysctl` does.
fn normalize_key(key: &str) -> String {
    if key.contains('/') && !key.contains('.') {
        key.replace('/', ".")
    } else {
        key.to_string()
    }
}

/// The mask of a prefix length (re-exported for loaders).
pub fn mask(len: u8) -> u32 {
    prefix_mask(len)
}
