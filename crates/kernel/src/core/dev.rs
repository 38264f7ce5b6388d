//! Models the entry of a received frame (`__netif_receive_skb_core`,
//! net/core/dev.c): `eth_type_trans`, the device's rx handler (a bridge
//! port's `br_handle_frame`), then the protocol handler (`ip_rcv` for IPv4,
//! `arp_rcv` for ARP), and what became of the packet; and the transmit of a
//! frame on a device (`dev_queue_xmit`).

use crate::bridge::NfBridgeInfo;
use crate::core::dropreason::SkbDropReason;
use crate::core::dst::{NetRx, Rtable};
use crate::core::skbuff::{ETH_P_IP, IcmpOut, IpskbFlags, PacketType, SkBuff};
use crate::core::tx::TxKind;
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
    /// Received on a bridge port and sent on by the bridge to other ports
    /// (`br_forward`, `br_flood`) without reaching this host's IP layer.
    Bridged,
}

impl Verdict {
    /// The word of the replay contract: a frame a bridge sent on by its
    /// ports left through another device, `forward`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Forward | Verdict::Bridged => "forward",
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
    /// The device whose handling decided: the one the frame was received
    /// on, or the bridge when a bridge port handed the frame up to it.
    pub dev: IfIndex,
}

impl RxOutcome {
    /// A frame freed for `reason` before it got a route.
    pub fn drop(reason: SkbDropReason) -> Self {
        RxOutcome {
            verdict: Verdict::Drop,
            drop_reason: Some(reason),
            route: None,
            icmp: None,
            dev: IfIndex(0),
        }
    }

    /// A frame with `verdict` and nothing else to say.
    pub fn of(verdict: Verdict) -> Self {
        RxOutcome {
            verdict,
            drop_reason: None,
            route: None,
            icmp: None,
            dev: IfIndex(0),
        }
    }
}

/// What a bridge hands up with a frame it delivers to its own device
/// (`br_pass_frame_up`): the frame keeps the `pkt_type` it got on the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassUp {
    /// `pkt_type` from the port (`PACKET_HOST` for the bridge's address).
    pub pkt_type: PacketType,
    /// `skb->nf_bridge` when br_netfilter saw the frame.
    pub nf_bridge: Option<NfBridgeInfo>,
    /// `skb->_nfct` from the bridge's PRE_ROUTING.
    pub nfct: crate::netfilter::conntrack::Nfct,
}

/// Kernel: `__netif_receive_skb_core` for a frame received on `dev`:
/// `eth_type_trans`, the bridge for a bridge port (`br_handle_frame`),
/// then `ip_rcv` for IPv4. ARP goes to `arp_process` (what it tells about
/// pending neighbours) and is consumed; other protocols are dropped as
/// `UNHANDLED_PROTO`. Each frame gets the next `Netns::rx_seq`. The frames
/// the host sends meanwhile are in `ns.tx` (cleared first), stamped with
/// that number.
pub fn netif_receive_skb<T: Tracer>(
    ns: &mut Netns,
    frame: &mut [u8],
    dev: IfIndex,
    t: &mut T,
) -> RxOutcome {
    ns.tx.clear();
    ns.rx_seq += 1;
    ns.tx.seq = ns.rx_seq;
    ns.rx_queued = false;
    ns.arp_ignored = None;
    if let Some(nf) = ns.nf.as_mut() {
        nf.trail.clear();
    }
    __netif_receive_skb(ns, frame, dev, None, t)
}

/// [`netif_receive_skb`] of a frame that comes with its route: what
/// `loopback_xmit` hands back to the stack keeps the dst it was sent with,
/// so `ip_rcv_finish` does not route it again.
pub fn netif_receive_skb_dst<T: Tracer>(
    ns: &mut Netns,
    frame: &mut [u8],
    dev: IfIndex,
    dst: Option<Rtable>,
    t: &mut T,
) -> RxOutcome {
    ns.tx.clear();
    ns.rx_seq += 1;
    ns.tx.seq = ns.rx_seq;
    ns.rx_queued = false;
    ns.arp_ignored = None;
    if let Some(nf) = ns.nf.as_mut() {
        nf.trail.clear();
    }
    receive_core(ns, frame, dev, None, dst, t)
}

/// `__netif_receive_skb_core` without the per-packet reset: the frame on
/// `dev`, or handed up by a bridge (`pass_up`) to its device.
pub fn __netif_receive_skb<T: Tracer>(
    ns: &mut Netns,
    frame: &mut [u8],
    dev: IfIndex,
    pass_up: Option<PassUp>,
    t: &mut T,
) -> RxOutcome {
    receive_core(ns, frame, dev, pass_up, None, t)
}

/// `__netif_receive_skb_core` with the skb's dst when it has one.
fn receive_core<T: Tracer>(
    ns: &mut Netns,
    frame: &mut [u8],
    dev: IfIndex,
    pass_up: Option<PassUp>,
    dst: Option<Rtable>,
    t: &mut T,
) -> RxOutcome {
    let mut skb = SkBuff::new(frame, dev, 0);
    skb.dst = dst;
    if !eth_type_trans(ns, &mut skb) {
        return RxOutcome {
            dev,
            ..RxOutcome::drop(SkbDropReason::PKT_TOO_SMALL)
        };
    }
    match pass_up {
        Some(p) => {
            skb.pkt_type = p.pkt_type;
            skb.nf_bridge = p.nf_bridge;
            skb.nfct = p.nfct;
        }
        None if ns.dev(dev).is_some_and(|d| d.is_bridge_port()) => {
            // rx_handler: the bridge takes the frame unless it passes it
            // on to the port's own protocols (link-local groups).
            if let crate::bridge::br_input::RxHandlerResult::Consumed(mut o) =
                crate::bridge::br_input::br_handle_frame(ns, &mut skb, t)
            {
                if o.dev == IfIndex(0) {
                    o.dev = dev;
                }
                return o;
            }
        }
        None => {}
    }
    if skb.protocol == ETH_P_ARP {
        let to_host = skb.pkt_type == PacketType::Host;
        let arp = skb.data.get(14..).unwrap_or(&[]);
        crate::core::neighbour::arp_process(ns, dev, arp, to_host, t);
        return RxOutcome {
            dev,
            ..RxOutcome::of(Verdict::Local)
        };
    }
    if skb.protocol != ETH_P_IP {
        // No packet_type took it: `rx_dropped` of the device.
        ns.dev_stats.entry(dev).or_default().rx_dropped += 1;
        return RxOutcome {
            dev,
            ..RxOutcome::drop(SkbDropReason::UNHANDLED_PROTO)
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
        dev,
    }
}

/// Kernel: `dev_queue_xmit` of the frame `build` writes, on `dev` at `at`:
/// the frame goes to `ns.tx`; on a bridge device, `br_dev_xmit` then sends
/// it on to the ports (more frames in `ns.tx`). Where a frame on a veth or
/// a physical device goes next is the topology's business
/// (`crate::topology`).
pub fn dev_queue_xmit(
    ns: &mut Netns,
    dev: IfIndex,
    kind: TxKind,
    at: u64,
    build: impl FnOnce(&mut Vec<u8>),
) {
    ns.tx.push(dev, kind, at, build);
    if ns.dev(dev).is_some_and(|d| d.bridge().is_some()) {
        let f = ns.tx.frames.len() - 1;
        crate::bridge::br_forward::br_dev_xmit(ns, dev, f);
    }
}
