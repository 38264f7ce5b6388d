//! Models `struct sk_buff` (include/linux/skbuff.h): a packet's bytes, the
//! kernel's offsets into them and the metadata the IPv4 path reads and sets.

use std::net::Ipv4Addr;

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::Rtable;
use crate::netns::IfIndex;

/// Kernel: `PACKET_*` (`skb->pkt_type`): whom the frame was addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PacketType {
    /// `PACKET_HOST`: to this host's MAC.
    #[default]
    Host,
    /// `PACKET_BROADCAST`: to the link-layer broadcast address.
    Broadcast,
    /// `PACKET_MULTICAST`: to a link-layer group address.
    Multicast,
    /// `PACKET_OTHERHOST`: to somebody else's MAC.
    OtherHost,
    /// `PACKET_OUTGOING`.
    Outgoing,
    /// `PACKET_LOOPBACK`.
    Loopback,
}

/// `IPSKB_*` flags of the IPv4 control block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IpskbFlags(pub u16);

#[allow(missing_docs)]
impl IpskbFlags {
    pub const IPSKB_FORWARDED: IpskbFlags = IpskbFlags(1);
    pub const IPSKB_XFRM_TUNNEL_SIZE: IpskbFlags = IpskbFlags(2);
    pub const IPSKB_XFRM_TRANSFORMED: IpskbFlags = IpskbFlags(4);
    pub const IPSKB_FRAG_COMPLETE: IpskbFlags = IpskbFlags(8);
    pub const IPSKB_REROUTED: IpskbFlags = IpskbFlags(16);
    pub const IPSKB_DOREDIRECT: IpskbFlags = IpskbFlags(32);
    pub const IPSKB_FRAG_PMTU: IpskbFlags = IpskbFlags(64);
    pub const IPSKB_L3SLAVE: IpskbFlags = IpskbFlags(128);
    pub const IPSKB_NOPOLICY: IpskbFlags = IpskbFlags(256);
    pub const IPSKB_MULTIPATH: IpskbFlags = IpskbFlags(512);

    /// True when every bit of `o` is set.
    pub const fn contains(self, o: IpskbFlags) -> bool {
        self.0 & o.0 == o.0
    }
}

/// Kernel: `struct inet_skb_parm` (`IPCB(skb)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipcb {
    /// `iif`: the ingress device.
    pub iif: IfIndex,
    /// `flags` (`IPSKB_*`).
    pub flags: IpskbFlags,
    /// `opt.rr`: offset of the record-route option in the header (0 = none).
    pub opt_rr: u8,
    /// `opt.rr_needaddr`: the forwarding address goes into the record.
    pub opt_rr_needaddr: bool,
    /// `opt.srr`: offset of a source-route option (0 = none).
    pub opt_srr: u8,
    /// `opt.is_strictroute`.
    pub opt_is_strictroute: bool,
    /// `opt.router_alert`.
    pub opt_router_alert: bool,
    /// `opt.srr_is_hit`: the packet was addressed to us and goes on to the
    /// next hop of its source route.
    pub opt_srr_is_hit: bool,
    /// `opt.nexthop`: that next hop.
    pub opt_nexthop: std::net::Ipv4Addr,
    /// `opt.ts`: offset of the timestamp option (0 = none).
    pub opt_ts: u8,
    /// `opt.ts_needaddr`: the forwarding address goes into the timestamp option.
    pub opt_ts_needaddr: bool,
    /// `opt.ts_needtime`: this host wrote a time into the timestamp option.
    pub opt_ts_needtime: bool,
    /// `opt.cipso`: offset of a CIPSO option (0 = none).
    pub opt_cipso: u8,
}

impl Default for Ipcb {
    fn default() -> Self {
        Ipcb {
            iif: IfIndex(0),
            flags: IpskbFlags(0),
            opt_rr: 0,
            opt_rr_needaddr: false,
            opt_srr: 0,
            opt_is_strictroute: false,
            opt_router_alert: false,
            opt_srr_is_hit: false,
            opt_nexthop: std::net::Ipv4Addr::UNSPECIFIED,
            opt_ts: 0,
            opt_ts_needaddr: false,
            opt_ts_needtime: false,
            opt_cipso: 0,
        }
    }
}

/// An ICMP message the host sends because of this packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpOut {
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
}

/// Kernel: `struct sk_buff` with the fields the IPv4 input path uses.
#[derive(Debug)]
pub struct SkBuff<'a> {
    /// The frame's bytes from the MAC header on.
    pub data: &'a mut [u8],
    /// `len`: bytes from the network header on.
    pub len: u32,
    /// Offset of the MAC header in `data`.
    pub mac_header: u16,
    /// Offset of the IP header in `data`.
    pub network_header: u16,
    /// Offset of the transport header in `data`.
    pub transport_header: u16,
    /// `protocol`: the EtherType (0x0800 for IPv4).
    pub protocol: u16,
    /// `pkt_type`.
    pub pkt_type: PacketType,
    /// `dev`: the device the packet is on.
    pub dev: IfIndex,
    /// `skb_iif`: the device it arrived on.
    pub skb_iif: IfIndex,
    /// `mark`.
    pub mark: u32,
    /// `priority`.
    pub priority: u32,
    /// The IP protocol of the packet (for multicast source checks).
    pub ip_protocol: u8,
    /// `_skb_refdst`: the route decision.
    pub dst: Option<Rtable>,
    /// `cb`: the IPv4 control block.
    pub cb: Ipcb,
    /// The reason the packet was freed with, when dropped.
    pub drop_reason: SkbDropReason,
    /// The ICMP error sent back, if any.
    pub icmp: Option<IcmpOut>,
    /// The packet reached a transport handler of this host.
    pub delivered: bool,
    /// `_nfct`: the packet's conntrack entry.
    pub nfct: crate::netfilter::conntrack::Nfct,
    /// `nf_bridge`: set when br_netfilter passed the frame to the IPv4 hooks.
    pub nf_bridge: Option<crate::bridge::NfBridgeInfo>,
}

/// `ETH_P_IP`.
pub const ETH_P_IP: u16 = 0x0800;

impl<'a> SkBuff<'a> {
    /// An skb over `data` received on `dev`, with its network header at `network_header`.
    pub fn new(data: &'a mut [u8], dev: IfIndex, network_header: u16) -> Self {
        let len = (data.len() as u32).saturating_sub(network_header as u32);
        SkBuff {
            data,
            len,
            mac_header: 0,
            network_header,
            transport_header: network_header,
            protocol: ETH_P_IP,
            pkt_type: PacketType::Host,
            dev,
            skb_iif: dev,
            mark: 0,
            priority: 0,
            ip_protocol: 0,
            dst: None,
            cb: Ipcb {
                iif: dev,
                ..Ipcb::default()
            },
            drop_reason: SkbDropReason::NOT_DROPPED_YET,
            icmp: None,
            delivered: false,
            nfct: crate::netfilter::conntrack::Nfct::None,
            nf_bridge: None,
        }
    }

    /// The route decision attached to the skb (`skb_rtable`).
    pub fn rtable(&self) -> Option<&Rtable> {
        self.dst.as_ref()
    }

    /// The IPv4 header's source address (`ip_hdr(skb)->saddr`), if the header is there.
    pub fn ip_saddr(&self) -> Option<Ipv4Addr> {
        let o = self.network_header as usize;
        self.data
            .get(o + 12..o + 16)
            .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }

    /// The IPv4 header's destination address (`ip_hdr(skb)->daddr`), if the header is there.
    pub fn ip_daddr(&self) -> Option<Ipv4Addr> {
        let o = self.network_header as usize;
        self.data
            .get(o + 16..o + 20)
            .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

/// The `truesize` of an skb holding a frame of `frame_len` bytes, as a
/// driver that allocates it with `netdev_alloc_skb` gets it: the data
/// (with `NET_SKB_PAD` headroom, cache aligned, plus `skb_shared_info`)
/// rounded up to a kmalloc size, plus the aligned `struct sk_buff`
/// (768 for a small frame, 2304 for a 1500-byte one).
pub fn skb_truesize(frame_len: usize) -> u32 {
    let align = |x: usize| x.div_ceil(64) * 64;
    let data = align(frame_len + 64) + 320;
    let kmalloc = [
        64usize, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072,
    ]
    .into_iter()
    .find(|&k| k >= data)
    .unwrap_or(data.next_power_of_two());
    (kmalloc + 256) as u32
}
