//! Models the entry of a received frame (`__netif_receive_skb_core`,
//! net/core/dev.c): `eth_type_trans`, then the protocol handler (`ip_rcv`
//! for IPv4), and what became of the packet.

use crate::core::dropreason::SkbDropReason;
use crate::core::dst::{NetRx, Rtable};
use crate::core::skbuff::{ETH_P_IP, IcmpOut, IpskbFlags, SkBuff};
use crate::ethernet::eth::eth_type_trans;
use crate::ipv4::ip_input::ip_rcv;
use crate::ipv4::ip_output::ETH_P_ARP;
use crate::netns::{IfIndex, Netns};
use crate::trace::Tracer;

/// What became of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Left through another device (or the same one).
    Forward,
    /// Delivered to this host.
    Local,
    /// Freed.
    Drop,
    /// Waiting on its next hop's neighbour entry; its fate comes in
    /// `Netns::settled` (forward or drop) once ARP is answered or gives up.
    Queued,
}

impl Verdict {
    /// The word of the replay contract.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Forward => "forward",
            Verdict::Local => "local",
            Verdict::Drop => "drop",
            Verdict::Queued => "queued",
        }
    }
}

/// The fate of one received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxOutcome {
    /// Forward, local or drop.
    pub verdict: Verdict,
    /// Why it was dropped.
    pub drop_reason: Option<SkbDropReason>,
    /// The route it got, if it got one.
    pub route: Option<Rtable>,
    /// The ICMP message this host sent back because of it.
    pub icmp: Option<IcmpOut>,
}

/// Kernel: `__netif_receive_skb_core` for a frame received on `dev`:
/// `eth_type_trans` then `ip_rcv` for IPv4. ARP goes to `arp_process`
/// (what it tells about pending neighbours) and is consumed; other
/// protocols are dropped as `UNHANDLED_PROTO`. Each frame gets the next
/// `Netns::rx_seq`. The frames
/// the host sends meanwhile are in `ns.tx` (cleared first).
pub fn netif_receive_skb<T: Tracer>(
    ns: &mut Netns,
    frame: &mut [u8],
    dev: IfIndex,
    t: &mut T,
) -> RxOutcome {
    ns.tx.clear();
    ns.rx_seq += 1;
    ns.rx_queued = false;
    ns.arp_ignored = None;
    if let Some(nf) = ns.nf.as_mut() {
        nf.trail.clear();
    }
    let mut skb = SkBuff::new(frame, dev, 0);
    if !eth_type_trans(ns, &mut skb) {
        return RxOutcome {
            verdict: Verdict::Drop,
            drop_reason: Some(SkbDropReason::PKT_TOO_SMALL),
            route: None,
            icmp: None,
        };
    }
    if skb.protocol == ETH_P_ARP {
        let to_host = skb.pkt_type == crate::core::skbuff::PacketType::Host;
        let arp = skb.data.get(14..).unwrap_or(&[]);
        crate::core::neighbour::arp_process(ns, dev, arp, to_host, t);
        return RxOutcome {
            verdict: Verdict::Local,
            drop_reason: None,
            route: None,
            icmp: None,
        };
    }
    if skb.protocol != ETH_P_IP {
        // No packet_type took it: `rx_dropped` of the device.
        ns.dev_stats.entry(dev).or_default().rx_dropped += 1;
        return RxOutcome {
            verdict: Verdict::Drop,
            drop_reason: Some(SkbDropReason::UNHANDLED_PROTO),
            route: None,
            icmp: None,
        };
    }
    let r = ip_rcv(ns, &mut skb, t);
    // The skb is freed or gone out: its reference on an entry that was never
    // confirmed (the packet died before POST_ROUTING or LOCAL_IN) frees it.
    if let Some(nf) = ns.nf.as_mut() {
        crate::netfilter::conntrack::nf_ct_put(&mut nf.ct, skb.nfct);
    }
    let verdict = match r {
        NetRx::Drop => Verdict::Drop,
        NetRx::Success if ns.rx_queued && crate::core::neighbour::is_waiting(ns, ns.rx_seq) => {
            Verdict::Queued
        }
        NetRx::Success if skb.cb.flags.contains(IpskbFlags::IPSKB_FORWARDED) => Verdict::Forward,
        NetRx::Success => Verdict::Local,
    };
    RxOutcome {
        verdict,
        drop_reason: (verdict == Verdict::Drop).then_some(skb.drop_reason),
        route: skb.dst,
        icmp: skb.icmp,
    }
}
