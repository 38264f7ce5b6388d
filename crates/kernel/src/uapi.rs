//! Numbers of the kernel's user API that the model speaks in: route types and
//! scopes (include/uapi/linux/rtnetlink.h), route cache flags
//! (include/uapi/linux/in_route.h), device flags (include/uapi/linux/if.h) and
//! errno values. Each is a newtype with the kernel's names as associated
//! constants, so any value round-trips and the names stay grep-able.

use std::fmt;

macro_rules! named_consts {
    ($(#[$doc:meta])* $ty:ident($inner:ty) { $($(#[$cdoc:meta])* $name:ident = $val:expr => $word:expr,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $ty(pub $inner);

        #[allow(missing_docs)]
        impl $ty {
            $($(#[$cdoc])* pub const $name: $ty = $ty($val);)*

            /// Every named value.
            pub const NAMED: &'static [$ty] = &[$($ty::$name,)*];

            /// The kernel constant's name, if the value has one.
            pub fn kernel_name(self) -> Option<&'static str> {
                match self.0 { $(x if x == $val => Some(stringify!($name)),)* _ => None }
            }

            /// The word iproute2 uses for the value, if it has one.
            pub fn word(self) -> Option<&'static str> {
                match self.0 { $(x if x == $val => Some($word),)* _ => None }
            }

            /// The value iproute2's word stands for.
            pub fn from_word(w: &str) -> Option<$ty> {
                match w { $($word => Some($ty::$name),)* _ => None }
            }
        }
    };
}

named_consts! {
    /// Kernel: `enum rtm_type` (`RTN_*`): what a route is for.
    RouteType(u8) {
        RTN_UNSPEC = 0 => "none",
        RTN_UNICAST = 1 => "unicast",
        RTN_LOCAL = 2 => "local",
        RTN_BROADCAST = 3 => "broadcast",
        RTN_ANYCAST = 4 => "anycast",
        RTN_MULTICAST = 5 => "multicast",
        RTN_BLACKHOLE = 6 => "blackhole",
        RTN_UNREACHABLE = 7 => "unreachable",
        RTN_PROHIBIT = 8 => "prohibit",
        RTN_THROW = 9 => "throw",
        RTN_NAT = 10 => "nat",
        RTN_XRESOLVE = 11 => "xresolve",
    }
}

named_consts! {
    /// Kernel: `enum rt_scope_t` (`RT_SCOPE_*`): how far a route's destination is.
    RtScope(u8) {
        RT_SCOPE_UNIVERSE = 0 => "global",
        RT_SCOPE_SITE = 200 => "site",
        RT_SCOPE_LINK = 253 => "link",
        RT_SCOPE_HOST = 254 => "host",
        RT_SCOPE_NOWHERE = 255 => "nowhere",
    }
}

named_consts! {
    /// Kernel: `RTPROT_*`: who installed a route.
    RtProt(u8) {
        RTPROT_UNSPEC = 0 => "unspec",
        RTPROT_REDIRECT = 1 => "redirect",
        RTPROT_KERNEL = 2 => "kernel",
        RTPROT_BOOT = 3 => "boot",
        RTPROT_STATIC = 4 => "static",
        RTPROT_RA = 9 => "ra",
        RTPROT_DHCP = 16 => "dhcp",
        RTPROT_BIRD = 12 => "bird",
        RTPROT_ZEBRA = 11 => "zebra",
        RTPROT_BGP = 186 => "bgp",
        RTPROT_OSPF = 188 => "ospf",
        RTPROT_STATIC_ISIS = 187 => "isis",
        RTPROT_RIP = 189 => "rip",
        RTPROT_EIGRP = 192 => "eigrp",
    }
}

named_consts! {
    /// Kernel: `RTCF_*` route cache flags (include/uapi/linux/in_route.h),
    /// printed by iproute2 after `cache`.
    RtcFlags(u32) {
        RTCF_NOTIFY = 0x0001_0000 => "notify",
        RTCF_REDIRECTED = 0x0004_0000 => "redirected",
        RTCF_DOREDIRECT = 0x0100_0000 => "redirect",
        RTCF_DIRECTSRC = 0x0400_0000 => "src-direct",
        RTCF_DNAT = 0x0800_0000 => "dst-nat",
        RTCF_BROADCAST = 0x1000_0000 => "brd",
        RTCF_MULTICAST = 0x2000_0000 => "mc",
        RTCF_LOCAL = 0x8000_0000 => "local",
    }
}

impl RtcFlags {
    /// True when every bit of `other` is set.
    pub const fn contains(self, other: RtcFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for RtcFlags {
    type Output = RtcFlags;
    fn bitor(self, rhs: RtcFlags) -> RtcFlags {
        RtcFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for RtcFlags {
    fn bitor_assign(&mut self, rhs: RtcFlags) {
        self.0 |= rhs.0;
    }
}

named_consts! {
    /// Kernel: `RTNH_F_*` next-hop flags.
    RtnhFlags(u32) {
        RTNH_F_DEAD = 1 => "dead",
        RTNH_F_PERVASIVE = 2 => "pervasive",
        RTNH_F_ONLINK = 4 => "onlink",
        RTNH_F_OFFLOAD = 8 => "offload",
        RTNH_F_LINKDOWN = 16 => "linkdown",
        RTNH_F_UNRESOLVED = 32 => "unresolved",
        RTNH_F_TRAP = 64 => "trap",
    }
}

impl RtnhFlags {
    /// True when every bit of `other` is set.
    pub const fn contains(self, other: RtnhFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

named_consts! {
    /// Kernel: `IFF_*` net_device flags (include/uapi/linux/if.h).
    DevFlags(u32) {
        IFF_UP = 0x1 => "UP",
        IFF_BROADCAST = 0x2 => "BROADCAST",
        IFF_DEBUG = 0x4 => "DEBUG",
        IFF_LOOPBACK = 0x8 => "LOOPBACK",
        IFF_POINTOPOINT = 0x10 => "POINTOPOINT",
        IFF_NOTRAILERS = 0x20 => "NOTRAILERS",
        IFF_RUNNING = 0x40 => "RUNNING",
        IFF_NOARP = 0x80 => "NOARP",
        IFF_PROMISC = 0x100 => "PROMISC",
        IFF_ALLMULTI = 0x200 => "ALLMULTI",
        IFF_MASTER = 0x400 => "MASTER",
        IFF_SLAVE = 0x800 => "SLAVE",
        IFF_MULTICAST = 0x1000 => "MULTICAST",
        IFF_LOWER_UP = 0x10000 => "LOWER_UP",
        IFF_DORMANT = 0x20000 => "DORMANT",
    }
}

impl DevFlags {
    /// True when every bit of `other` is set.
    pub const fn contains(self, other: DevFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

named_consts! {
    /// An errno value (positive, as `dst.error` holds it), with the
    /// message `strerror` gives, which `ip` prints after `RTNETLINK answers:`.
    Errno(i32) {
        ESRCH = 3 => "ESRCH",
        EAGAIN = 11 => "EAGAIN",
        EACCES = 13 => "EACCES",
        ENODEV = 19 => "ENODEV",
        EINVAL = 22 => "EINVAL",
        ENETDOWN = 100 => "ENETDOWN",
        ENETUNREACH = 101 => "ENETUNREACH",
        ENOBUFS = 105 => "ENOBUFS",
        EHOSTUNREACH = 113 => "EHOSTUNREACH",
    }
}

impl Errno {
    /// The C library's `strerror` text for the value.
    pub fn message(self) -> &'static str {
        match self {
            Errno::ESRCH => "No such process",
            Errno::EAGAIN => "Resource temporarily unavailable",
            Errno::EACCES => "Permission denied",
            Errno::ENODEV => "No such device",
            Errno::EINVAL => "Invalid argument",
            Errno::ENETDOWN => "Network is down",
            Errno::ENETUNREACH => "Network is unreachable",
            Errno::ENOBUFS => "No buffer space available",
            Errno::EHOSTUNREACH => "No route to host",
            _ => "Unknown error",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word().unwrap_or("E?"))
    }
}

/// Kernel: `ARPHRD_*` link types (include/uapi/linux/if_arp.h), as `ip -j link` spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// `ARPHRD_ETHER`: "ether".
    Ether,
    /// `ARPHRD_LOOPBACK`: "loopback".
    Loopback,
    /// `ARPHRD_NONE`: "none" (tun, wireguard).
    None,
    /// Any other type, by iproute2's word.
    Other,
}

impl LinkType {
    /// The type of an `ip -j link` "link_type" word.
    pub fn from_word(w: &str) -> LinkType {
        match w {
            "ether" => LinkType::Ether,
            "loopback" => LinkType::Loopback,
            "none" => LinkType::None,
            _ => LinkType::Other,
        }
    }

    /// The word `ip -j link` prints.
    pub fn word(self) -> &'static str {
        match self {
            LinkType::Ether => "ether",
            LinkType::Loopback => "loopback",
            LinkType::None => "none",
            LinkType::Other => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_words_round_trip() {
        assert_eq!(
            RouteType::RTN_UNREACHABLE.kernel_name(),
            Some("RTN_UNREACHABLE")
        );
        assert_eq!(
            RouteType::from_word("prohibit"),
            Some(RouteType::RTN_PROHIBIT)
        );
        assert_eq!(RouteType(42).word(), None);
        assert_eq!(Errno::EHOSTUNREACH.message(), "No route to host");
        assert_eq!(Errno::ENETUNREACH.to_string(), "ENETUNREACH");
        assert!((RtcFlags::RTCF_LOCAL | RtcFlags::RTCF_BROADCAST).contains(RtcFlags::RTCF_LOCAL));
    }
}
