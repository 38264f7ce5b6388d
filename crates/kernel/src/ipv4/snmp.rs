//! Models the counters of /proc/net/snmp, /proc/net/netstat
//! (include/uapi/linux/snmp.h) and /proc/net/stat/rt_cache
//! (`struct rt_cache_stat`), named exactly as the kernel prints them.
//! Counters are model state: they are kept whether or not a walk is traced.

macro_rules! mib {
    ($(#[$doc:meta])* $ty:ident, $group:literal { $($field:ident = $name:literal,)* }) => {
        $(#[$doc])*
        #[allow(non_snake_case)]
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $ty {
            $(#[doc = concat!("`", $name, "`")] pub $field: u64,)*
        }

        impl $ty {
            /// The group's name in /proc (`Ip`, `IpExt`, ...).
            pub const GROUP: &'static str = $group;

            /// Every counter as (kernel name, value), in the kernel's order.
            pub fn entries(&self) -> [(&'static str, u64); mib!(@count $($field)*)] {
                [$(($name, self.$field),)*]
            }
        }
    };
    (@count) => { 0 };
    (@count $h:ident $($t:ident)*) => { 1 + mib!(@count $($t)*) };
}

mib! {
    /// The `Ip:` line of /proc/net/snmp.
    IpStats, "Ip" {
        InReceives = "InReceives",
        InHdrErrors = "InHdrErrors",
        InAddrErrors = "InAddrErrors",
        ForwDatagrams = "ForwDatagrams",
        InUnknownProtos = "InUnknownProtos",
        InDiscards = "InDiscards",
        InDelivers = "InDelivers",
        OutRequests = "OutRequests",
        OutDiscards = "OutDiscards",
        OutNoRoutes = "OutNoRoutes",
        ReasmTimeout = "ReasmTimeout",
        ReasmReqds = "ReasmReqds",
        ReasmOKs = "ReasmOKs",
        ReasmFails = "ReasmFails",
        FragOKs = "FragOKs",
        FragFails = "FragFails",
        FragCreates = "FragCreates",
        OutTransmits = "OutTransmits",
    }
}

mib! {
    /// The `IpExt:` line of /proc/net/netstat.
    IpExtStats, "IpExt" {
        InNoRoutes = "InNoRoutes",
        InTruncatedPkts = "InTruncatedPkts",
        InMcastPkts = "InMcastPkts",
        OutMcastPkts = "OutMcastPkts",
        InBcastPkts = "InBcastPkts",
        OutBcastPkts = "OutBcastPkts",
        InOctets = "InOctets",
        OutOctets = "OutOctets",
        InMcastOctets = "InMcastOctets",
        OutMcastOctets = "OutMcastOctets",
        InBcastOctets = "InBcastOctets",
        OutBcastOctets = "OutBcastOctets",
        InCsumErrors = "InCsumErrors",
        InNoECTPkts = "InNoECTPkts",
        InECT1Pkts = "InECT1Pkts",
        InECT0Pkts = "InECT0Pkts",
        InCEPkts = "InCEPkts",
    }
}

mib! {
    /// The counters of the `TcpExt:` line that the IPv4 input path touches.
    TcpExtStats, "TcpExt" {
        IPReversePathFilter = "IPReversePathFilter",
    }
}

mib! {
    /// The `Icmp:` line of /proc/net/snmp (the output side this path touches).
    IcmpStats, "Icmp" {
        InMsgs = "InMsgs",
        InErrors = "InErrors",
        InCsumErrors = "InCsumErrors",
        InDestUnreachs = "InDestUnreachs",
        InTimeExcds = "InTimeExcds",
        InEchos = "InEchos",
        InEchoReps = "InEchoReps",
        OutMsgs = "OutMsgs",
        OutErrors = "OutErrors",
        OutRateLimitGlobal = "OutRateLimitGlobal",
        OutRateLimitHost = "OutRateLimitHost",
        OutDestUnreachs = "OutDestUnreachs",
        OutTimeExcds = "OutTimeExcds",
        OutParmProbs = "OutParmProbs",
        OutRedirects = "OutRedirects",
        OutEchoReps = "OutEchoReps",
    }
}

mib! {
    /// The `IcmpMsg:` line of /proc/net/snmp (per-type output counts).
    IcmpMsgStats, "IcmpMsg" {
        InType0 = "InType0",
        InType3 = "InType3",
        InType8 = "InType8",
        InType11 = "InType11",
        OutType0 = "OutType0",
        OutType3 = "OutType3",
        OutType5 = "OutType5",
        OutType11 = "OutType11",
        OutType12 = "OutType12",
    }
}

mib! {
    /// The `Udp:` line of /proc/net/snmp.
    UdpStats, "Udp" {
        InDatagrams = "InDatagrams",
        NoPorts = "NoPorts",
        InErrors = "InErrors",
        OutDatagrams = "OutDatagrams",
        InCsumErrors = "InCsumErrors",
    }
}

mib! {
    /// The `Tcp:` line of /proc/net/snmp (the counters a segment to a closed port touches).
    TcpStats, "Tcp" {
        InSegs = "InSegs",
        OutSegs = "OutSegs",
        InErrs = "InErrs",
        OutRsts = "OutRsts",
        InCsumErrors = "InCsumErrors",
    }
}

mib! {
    /// /proc/net/stat/rt_cache (`struct rt_cache_stat`), the input columns.
    RtCacheStat, "rt_cache" {
        in_slow_tot = "in_slow_tot",
        in_slow_mc = "in_slow_mc",
        in_no_route = "in_no_route",
        in_brd = "in_brd",
        in_martian_dst = "in_martian_dst",
        in_martian_src = "in_martian_src",
        out_slow_tot = "out_slow_tot",
        out_slow_mc = "out_slow_mc",
    }
}

/// Every MIB group of one namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpMib {
    /// `Ip:`.
    pub ip: IpStats,
    /// `IpExt:`.
    pub ip_ext: IpExtStats,
    /// `TcpExt:`.
    pub tcp_ext: TcpExtStats,
    /// `Icmp:`.
    pub icmp: IcmpStats,
    /// `IcmpMsg:`.
    pub icmp_msg: IcmpMsgStats,
    /// `Udp:`.
    pub udp: UdpStats,
    /// `Tcp:`.
    pub tcp: TcpStats,
}
