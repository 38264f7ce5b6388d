//! Models net/ipv4/devinet.c and include/linux/inetdevice.h: a device's IPv4
//! state (`in_device`, its addresses `in_ifaddr`, its `ipv4_devconf`) and the
//! `IN_DEV_*` accessors that combine a device's value with `conf.all`.

use std::net::Ipv4Addr;

use crate::uapi::RtScope;

macro_rules! devconf_keys {
    ($($(#[$doc:meta])* $name:ident = $sysctl:literal, all: $all:expr, dflt: $dflt:expr;)*) => {
        /// Kernel: `IPV4_DEVCONF_*`, one per `net.ipv4.conf.*` key.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DevconfKey {
            $($(#[$doc])* $name,)*
        }

        impl DevconfKey {
            /// Every key, in the kernel's order.
            pub const ALL: &'static [DevconfKey] = &[$(DevconfKey::$name,)*];

            /// The sysctl name under `net.ipv4.conf.DEV.`.
            pub const fn sysctl_name(self) -> &'static str {
                match self { $(DevconfKey::$name => $sysctl,)* }
            }

            /// The key for a sysctl name under `net.ipv4.conf.DEV.`.
            pub fn from_sysctl_name(name: &str) -> Option<DevconfKey> {
                match name { $($sysctl => Some(DevconfKey::$name),)* _ => None }
            }
        }

        /// The compiled defaults of `conf.all` (`devinet.c:ipv4_devconf`).
        const ALL_DEFAULTS: [i32; DevconfKey::COUNT] = [$($all,)*];
        /// The compiled defaults of `conf.default` (`devinet.c:ipv4_devconf_dflt`).
        const DFLT_DEFAULTS: [i32; DevconfKey::COUNT] = [$($dflt,)*];
    };
}

devconf_keys! {
    /// `forwarding`
    FORWARDING = "forwarding", all: 0, dflt: 0;
    /// `mc_forwarding` (read-only; set by a multicast routing daemon)
    MC_FORWARDING = "mc_forwarding", all: 0, dflt: 0;
    /// `proxy_arp`
    PROXY_ARP = "proxy_arp", all: 0, dflt: 0;
    /// `accept_redirects`
    ACCEPT_REDIRECTS = "accept_redirects", all: 1, dflt: 1;
    /// `secure_redirects`
    SECURE_REDIRECTS = "secure_redirects", all: 1, dflt: 1;
    /// `send_redirects`
    SEND_REDIRECTS = "send_redirects", all: 1, dflt: 1;
    /// `shared_media`
    SHARED_MEDIA = "shared_media", all: 1, dflt: 1;
    /// `rp_filter`
    RP_FILTER = "rp_filter", all: 0, dflt: 0;
    /// `accept_source_route`
    ACCEPT_SOURCE_ROUTE = "accept_source_route", all: 0, dflt: 1;
    /// `bootp_relay`
    BOOTP_RELAY = "bootp_relay", all: 0, dflt: 0;
    /// `log_martians`
    LOG_MARTIANS = "log_martians", all: 0, dflt: 0;
    /// `tag`
    TAG = "tag", all: 0, dflt: 0;
    /// `arp_filter`
    ARPFILTER = "arp_filter", all: 0, dflt: 0;
    /// `medium_id`
    MEDIUM_ID = "medium_id", all: 0, dflt: 0;
    /// `disable_xfrm`
    NOXFRM = "disable_xfrm", all: 0, dflt: 0;
    /// `disable_policy`
    NOPOLICY = "disable_policy", all: 0, dflt: 0;
    /// `force_igmp_version`
    FORCE_IGMP_VERSION = "force_igmp_version", all: 0, dflt: 0;
    /// `arp_announce`
    ARP_ANNOUNCE = "arp_announce", all: 0, dflt: 0;
    /// `arp_ignore`
    ARP_IGNORE = "arp_ignore", all: 0, dflt: 0;
    /// `promote_secondaries`
    PROMOTE_SECONDARIES = "promote_secondaries", all: 0, dflt: 0;
    /// `arp_accept`
    ARP_ACCEPT = "arp_accept", all: 0, dflt: 0;
    /// `arp_notify`
    ARP_NOTIFY = "arp_notify", all: 0, dflt: 0;
    /// `accept_local`
    ACCEPT_LOCAL = "accept_local", all: 0, dflt: 0;
    /// `src_valid_mark`
    SRC_VMARK = "src_valid_mark", all: 0, dflt: 0;
    /// `proxy_arp_pvlan`
    PROXY_ARP_PVLAN = "proxy_arp_pvlan", all: 0, dflt: 0;
    /// `route_localnet`
    ROUTE_LOCALNET = "route_localnet", all: 0, dflt: 0;
    /// `igmpv2_unsolicited_report_interval`
    IGMPV2_UNSOLICITED_REPORT_INTERVAL = "igmpv2_unsolicited_report_interval", all: 10000, dflt: 10000;
    /// `igmpv3_unsolicited_report_interval`
    IGMPV3_UNSOLICITED_REPORT_INTERVAL = "igmpv3_unsolicited_report_interval", all: 1000, dflt: 1000;
    /// `ignore_routes_with_linkdown`
    IGNORE_ROUTES_WITH_LINKDOWN = "ignore_routes_with_linkdown", all: 0, dflt: 0;
    /// `drop_unicast_in_l2_multicast`
    DROP_UNICAST_IN_L2_MULTICAST = "drop_unicast_in_l2_multicast", all: 0, dflt: 0;
    /// `drop_gratuitous_arp`
    DROP_GRATUITOUS_ARP = "drop_gratuitous_arp", all: 0, dflt: 0;
    /// `bc_forwarding`
    BC_FORWARDING = "bc_forwarding", all: 0, dflt: 0;
    /// `arp_evict_nocarrier`
    ARP_EVICT_NOCARRIER = "arp_evict_nocarrier", all: 1, dflt: 1;
}

impl DevconfKey {
    /// How many keys there are.
    pub const COUNT: usize = 33;
}

/// Kernel: `struct ipv4_devconf`: one value per key, plus the bitmap of
/// values that were set explicitly (`state`), which decides whether a write
/// to `conf.default` still reaches a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Devconf {
    /// The values, indexed by `DevconfKey as usize`.
    pub data: [i32; DevconfKey::COUNT],
    /// Bit `k` set: key `k` was written explicitly (or the device got an address).
    pub state: u64,
}

impl Ipv4Devconf {
    /// `conf.all` as a new network namespace has it.
    pub fn all_defaults() -> Self {
        Ipv4Devconf {
            data: ALL_DEFAULTS,
            state: 0,
        }
    }

    /// `conf.default` as a new network namespace has it.
    pub fn dflt_defaults() -> Self {
        Ipv4Devconf {
            data: DFLT_DEFAULTS,
            state: 0,
        }
    }

    /// The value of one key.
    #[inline]
    pub fn get(&self, k: DevconfKey) -> i32 {
        self.data[k as usize]
    }

    /// Sets one key without any propagation (a snapshot's value as it is).
    #[inline]
    pub fn set(&mut self, k: DevconfKey, v: i32) {
        self.data[k as usize] = v;
    }

    /// Whether the key was set explicitly (`IPV4_DEVCONF` state bit).
    pub fn is_set(&self, k: DevconfKey) -> bool {
        self.state & (1 << (k as u32)) != 0
    }

    /// Marks the key as set explicitly.
    pub fn mark_set(&mut self, k: DevconfKey) {
        self.state |= 1 << (k as u32);
    }

    /// Kernel: `ipv4_devconf_setall`: every key counts as set (an address was added).
    pub fn setall(&mut self) {
        self.state = (1u64 << DevconfKey::COUNT) - 1;
    }
}

/// Kernel: `IFA_F_*` address flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct IfaFlags(pub u32);

#[allow(missing_docs)]
impl IfaFlags {
    pub const IFA_F_SECONDARY: IfaFlags = IfaFlags(0x01);
    pub const IFA_F_NODAD: IfaFlags = IfaFlags(0x02);
    pub const IFA_F_DEPRECATED: IfaFlags = IfaFlags(0x20);
    pub const IFA_F_PERMANENT: IfaFlags = IfaFlags(0x80);
    pub const IFA_F_NOPREFIXROUTE: IfaFlags = IfaFlags(0x200);

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: IfaFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Kernel: `struct in_ifaddr`: one IPv4 address of a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InIfaddr {
    /// `ifa_local`: the address itself.
    pub ifa_local: Ipv4Addr,
    /// `ifa_address`: the peer on point-to-point links, else equal to `ifa_local`.
    pub ifa_address: Ipv4Addr,
    /// `ifa_prefixlen`.
    pub ifa_prefixlen: u8,
    /// `ifa_broadcast` (0.0.0.0 when none).
    pub ifa_broadcast: Ipv4Addr,
    /// `ifa_scope`.
    pub ifa_scope: RtScope,
    /// `ifa_flags` (secondary, noprefixroute, ...).
    pub ifa_flags: IfaFlags,
    /// `ifa_label`, when it differs from the device name.
    pub ifa_label: Option<String>,
    /// `ifa_rt_priority`: the metric of the prefix route.
    pub ifa_rt_priority: u32,
}

impl InIfaddr {
    /// The network mask as a host-order u32.
    pub fn mask(&self) -> u32 {
        prefix_mask(self.ifa_prefixlen)
    }

    /// The address's prefix (network address).
    pub fn prefix(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.ifa_address) & self.mask())
    }

    /// Whether `a` lies inside this address's prefix (`inet_ifa_match`).
    pub fn matches(&self, a: Ipv4Addr) -> bool {
        (u32::from(a) ^ u32::from(self.ifa_address)) & self.mask() == 0
    }

    /// Whether this is a secondary address.
    pub fn is_secondary(&self) -> bool {
        self.ifa_flags.contains(IfaFlags::IFA_F_SECONDARY)
    }
}

/// The mask of a prefix length, host order (`inet_make_mask`).
#[inline]
pub const fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

/// Kernel: `struct in_device`: a device's IPv4 configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InDevice {
    /// `ifa_list`: primary addresses first, each followed by its secondaries.
    pub ifa_list: Vec<InIfaddr>,
    /// `cnf`: the device's `net.ipv4.conf.DEV.*` values.
    pub cnf: Ipv4Devconf,
    /// Joined multicast groups (`mc_list`); the kernel joins 224.0.0.1 on up.
    pub mc_list: Vec<Ipv4Addr>,
}

impl InDevice {
    /// A new in_device copying `conf.default` (`inetdev_init`).
    pub fn new(dflt: &Ipv4Devconf) -> Self {
        InDevice {
            ifa_list: Vec::new(),
            cnf: Ipv4Devconf {
                data: dflt.data,
                state: 0,
            },
            mc_list: Vec::new(),
        }
    }

    /// The primary address (first non-secondary), if any.
    pub fn primary(&self) -> Option<&InIfaddr> {
        self.ifa_list.iter().find(|a| !a.is_secondary())
    }

    /// Kernel: `inet_addr_onlink`: `a` and, when nonzero, `b` both lie in one
    /// of this device's address prefixes.
    pub fn inet_addr_onlink(&self, a: Ipv4Addr, b: Ipv4Addr) -> bool {
        self.ifa_list
            .iter()
            .any(|ifa| ifa.matches(a) && (b.is_unspecified() || ifa.matches(b)))
    }
}

/// Kernel: `inet_select_addr`: the source address the host uses toward `dst`
/// through `dev` for a route of `scope`: the device's first primary address of
/// fitting scope in `dst`'s subnet, else its first primary one of fitting
/// scope, else the first fitting address of any device (lo first).
pub fn inet_select_addr(
    ns: &crate::netns::Netns,
    dev: crate::netns::IfIndex,
    dst: Ipv4Addr,
    scope: RtScope,
) -> Ipv4Addr {
    let mut addr = Ipv4Addr::UNSPECIFIED;
    if let Some(idev) = ns.in_dev(dev) {
        let localnet_scope = if ns.in_dev_route_localnet(idev) {
            RtScope::RT_SCOPE_LINK
        } else {
            RtScope::RT_SCOPE_HOST
        };
        for ifa in idev.ifa_list.iter().filter(|a| !a.is_secondary()) {
            if ifa.ifa_scope.min(localnet_scope) > scope {
                continue;
            }
            if dst.is_unspecified() || ifa.matches(dst) {
                addr = ifa.ifa_local;
                break;
            }
            if addr.is_unspecified() {
                addr = ifa.ifa_local;
            }
        }
    }
    if !addr.is_unspecified() {
        return addr;
    }
    for d in &ns.devices {
        if let Some(idev) = &d.ip_ptr
            && let Some(a) = in_dev_select_addr(idev, scope)
        {
            return a;
        }
    }
    Ipv4Addr::UNSPECIFIED
}

/// Kernel: `in_dev_select_addr`: a device's first primary address whose scope
/// is neither link nor narrower than `scope`.
pub fn in_dev_select_addr(idev: &InDevice, scope: RtScope) -> Option<Ipv4Addr> {
    idev.ifa_list
        .iter()
        .filter(|a| !a.is_secondary())
        .find(|a| a.ifa_scope != RtScope::RT_SCOPE_LINK && a.ifa_scope <= scope)
        .map(|a| a.ifa_local)
}
