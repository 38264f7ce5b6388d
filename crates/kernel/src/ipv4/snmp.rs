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
        LockDroppedIcmps = "LockDroppedIcmps",
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
        InParmProbs = "InParmProbs",
        InSrcQuenchs = "InSrcQuenchs",
        InRedirects = "InRedirects",
        InEchos = "InEchos",
        InEchoReps = "InEchoReps",
        InTimestamps = "InTimestamps",
        InTimestampReps = "InTimestampReps",
        InAddrMasks = "InAddrMasks",
        InAddrMaskReps = "InAddrMaskReps",
        OutMsgs = "OutMsgs",
        OutErrors = "OutErrors",
        OutRateLimitGlobal = "OutRateLimitGlobal",
        OutRateLimitHost = "OutRateLimitHost",
        OutDestUnreachs = "OutDestUnreachs",
        OutTimeExcds = "OutTimeExcds",
        OutParmProbs = "OutParmProbs",
        OutRedirects = "OutRedirects",
        OutEchos = "OutEchos",
        OutEchoReps = "OutEchoReps",
    }
}

mib! {
    /// The `IcmpMsg:` line of /proc/net/snmp (per-type output counts).
    IcmpMsgStats, "IcmpMsg" {
        InType0 = "InType0",
        InType1 = "InType1",
        InType2 = "InType2",
        InType3 = "InType3",
        InType4 = "InType4",
        InType5 = "InType5",
        InType6 = "InType6",
        InType7 = "InType7",
        InType8 = "InType8",
        InType9 = "InType9",
        InType10 = "InType10",
        InType11 = "InType11",
        InType12 = "InType12",
        InType13 = "InType13",
        InType14 = "InType14",
        InType15 = "InType15",
        InType16 = "InType16",
        InType17 = "InType17",
        InType18 = "InType18",
        OutType0 = "OutType0",
        OutType3 = "OutType3",
        OutType5 = "OutType5",
        OutType8 = "OutType8",
        OutType11 = "OutType11",
        OutType12 = "OutType12",
    }
}

impl IcmpMsgStats {
    /// Kernel: `ICMPMSGIN_INC_STATS` for a received message of type `t`
    /// (0 to 18; larger types are counted in `IpMib::icmp_in_other`).
    pub fn count_in(&mut self, t: u8) {
        let c = match t {
            0 => &mut self.InType0,
            1 => &mut self.InType1,
            2 => &mut self.InType2,
            3 => &mut self.InType3,
            4 => &mut self.InType4,
            5 => &mut self.InType5,
            6 => &mut self.InType6,
            7 => &mut self.InType7,
            8 => &mut self.InType8,
            9 => &mut self.InType9,
            10 => &mut self.InType10,
            11 => &mut self.InType11,
            12 => &mut self.InType12,
            13 => &mut self.InType13,
            14 => &mut self.InType14,
            15 => &mut self.InType15,
            16 => &mut self.InType16,
            17 => &mut self.InType17,
            18 => &mut self.InType18,
            _ => return,
        };
        *c += 1;
    }
}

impl IcmpStats {
    /// The `Icmp:` counter /proc/net/snmp shows for received type `t`
    /// (`icmpmibmap`: derived from the per-type counts).
    pub fn count_in(&mut self, t: u8) {
        let c = match t {
            0 => &mut self.InEchoReps,
            3 => &mut self.InDestUnreachs,
            4 => &mut self.InSrcQuenchs,
            5 => &mut self.InRedirects,
            8 => &mut self.InEchos,
            11 => &mut self.InTimeExcds,
            12 => &mut self.InParmProbs,
            13 => &mut self.InTimestamps,
            14 => &mut self.InTimestampReps,
            17 => &mut self.InAddrMasks,
            18 => &mut self.InAddrMaskReps,
            _ => return,
        };
        *c += 1;
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
    /// `IcmpMsg:` `InTypeN` for the types above 18 (`N` to count).
    pub icmp_in_other: std::collections::BTreeMap<u8, u64>,
}

impl IpMib {
    /// Counts a received ICMP message of type `t` in `IcmpMsg` and the
    /// `Icmp` counter that shows it.
    pub fn icmp_in(&mut self, t: u8) {
        self.icmp_msg.count_in(t);
        self.icmp.count_in(t);
        if t > 18 {
            *self.icmp_in_other.entry(t).or_insert(0) += 1;
        }
    }
}
