//! Models net/bridge/br_input.c: `br_handle_frame` (the rx handler of a
//! bridge port), `br_handle_frame_finish` (learning, then local delivery,
//! forwarding or flooding) and `br_pass_frame_up` (the frame received again
//! on the bridge device, so the host's IP layer sees it with `skb->dev` =
//! the bridge).

use crate::bridge::br_fdb::{br_fdb_find, br_fdb_update};
use crate::bridge::br_forward::{BrFlooded, BrPktType, BrSkbCb, br_flood, br_forward};
use crate::bridge::{
    BrPortFlags, BrPortState, NfBridgeInfo, is_broadcast_ether_addr, is_link_local_ether_addr,
    is_multicast_ether_addr, is_valid_ether_addr,
};
use crate::core::dev::{__netif_receive_skb, PassUp, RxOutcome, Verdict};
use crate::core::dropreason::SkbDropReason;
use crate::core::skbuff::{PacketType, SkBuff};
use crate::core::tx::TxKind;
use crate::netns::{IfIndex, Netns};
use crate::trace::{Branch, Check, KernelFn, Step, Tracer};
use crate::uapi::DevFlags;

/// Kernel: `rx_handler_result_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxHandlerResult {
    /// `RX_HANDLER_CONSUMED`: the bridge took the frame; this is its fate.
    Consumed(RxOutcome),
    /// `RX_HANDLER_PASS`: the port's own protocol handlers get the frame
    /// (a link-local group frame the bridge does not forward).
    Pass,
}

/// The bridge and the port state of a port device.
fn port_of(ns: &Netns, port: IfIndex) -> Option<(IfIndex, crate::bridge::NetBridgePort)> {
    let d = ns.dev(port)?;
    Some((d.master?, (**d.brport.as_ref()?).clone()))
}

/// Kernel: `__br_handle_local_finish`: a link-local frame teaches the FDB
/// its source when the port learns and its state allows learning.
fn br_handle_local_finish(ns: &mut Netns, br: IfIndex, port: IfIndex, src: &[u8; 6]) {
    let Some((_, p)) = port_of(ns, port) else {
        return;
    };
    if p.flags.contains(BrPortFlags::BR_LEARNING)
        && matches!(
            p.state,
            BrPortState::BR_STATE_LEARNING | BrPortState::BR_STATE_FORWARDING
        )
    {
        br_fdb_update(ns, br, port, src);
    }
}

/// Kernel: `br_handle_frame` for a frame received on bridge port
/// `skb.dev` (after `eth_type_trans`): an invalid source MAC is dropped
/// (`MAC_INVALID_SOURCE`); a link-local group frame (01:80:c2:00:00:0X) is
/// forwarded only when STP is off and it is the STP group (…:00), or its bit
/// is in `group_fwd_mask`, pause frames (…:01) are dropped, and the others
/// teach the FDB and pass to the port's own protocols; otherwise a port in
/// the forwarding or learning state hands the frame (`PACKET_HOST` when it
/// is for the bridge's address) to the bridge's PRE_ROUTING
/// (`nf_hook_bridge_pre`: br_netfilter, see `br_netfilter_hooks`) and
/// `br_handle_frame_finish`; any other state drops it
/// (`BRIDGE_INGRESS_STP_STATE`).
pub fn br_handle_frame<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> RxHandlerResult {
    t.enter(KernelFn::br_handle_frame);
    let r = handle_frame(ns, skb, t);
    if T::ENABLED
        && let RxHandlerResult::Consumed(o) = r
        && let Some(reason) = o.drop_reason
    {
        t.step(Step::new(
            KernelFn::br_handle_frame,
            Check::Drop { reason },
            Branch::out,
        ));
    }
    t.leave();
    r
}

fn handle_frame<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, t: &mut T) -> RxHandlerResult {
    let port = skb.dev;
    let Some((br, p)) = port_of(ns, port) else {
        return RxHandlerResult::Pass;
    };
    let dest: [u8; 6] = skb.data[0..6].try_into().expect("eth_type_trans checked");
    let src: [u8; 6] = skb.data[6..12].try_into().expect("eth_type_trans checked");
    if !is_valid_ether_addr(&src) {
        return RxHandlerResult::Consumed(RxOutcome::drop(SkbDropReason::MAC_INVALID_SOURCE));
    }
    if is_link_local_ether_addr(&dest) {
        let (stp, mask) = ns
            .dev(br)
            .and_then(|d| d.bridge())
            .map_or((false, 0), |b| (b.stp_enabled, b.group_fwd_mask));
        let forward = match dest[5] {
            0x00 => !stp,
            0x01 => {
                return RxHandlerResult::Consumed(RxOutcome::drop(SkbDropReason::NOT_SPECIFIED));
            }
            g => mask & (1 << g) != 0,
        };
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::br_handle_frame,
                Check::BrLinkLocal {
                    group: dest[5],
                    forwarded: forward,
                },
                Branch::Next,
            ));
        }
        if !forward {
            br_handle_local_finish(ns, br, port, &src);
            return RxHandlerResult::Pass;
        }
    }
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::br_handle_frame,
            Check::BrPortState {
                port,
                state: p.state.0,
            },
            Branch::Next,
        ));
    }
    match p.state {
        BrPortState::BR_STATE_FORWARDING | BrPortState::BR_STATE_LEARNING => {
            if ns.dev(br).is_some_and(|d| d.dev_addr == dest) {
                skb.pkt_type = PacketType::Host;
            }
            if let Err(reason) =
                crate::bridge::br_netfilter_hooks::br_nf_pre_routing(ns, br, skb, t)
            {
                return RxHandlerResult::Consumed(RxOutcome::drop(reason));
            }
            RxHandlerResult::Consumed(br_handle_frame_finish(ns, br, skb, t))
        }
        _ => RxHandlerResult::Consumed(RxOutcome::drop(SkbDropReason::BRIDGE_INGRESS_STP_STATE)),
    }
}

/// Kernel: `br_handle_frame_finish`: the port learns the source
/// (`br_fdb_update`, when `BR_LEARNING`); a broadcast goes to the host and
/// every other port, a multicast likewise (no querier: snooping does not
/// restrict it); a port still learning drops the frame here; a unicast to a
/// local FDB entry goes up (`br_pass_frame_up`), to a known port is
/// forwarded (`br_forward`), to an unknown address flooded (`br_flood`),
/// and reaches the host too only when the bridge is promiscuous.
///
/// The outcome: the host's IP verdict when the frame went up; else
/// `Bridged` when it left by at least one port, else dropped
/// (`NOT_SPECIFIED`, as `br_forward`/`br_flood` free a frame nobody takes).
pub fn br_handle_frame_finish<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> RxOutcome {
    t.enter(KernelFn::br_handle_frame_finish);
    let o = handle_frame_finish(ns, br, skb, t);
    t.leave();
    o
}

fn handle_frame_finish<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> RxOutcome {
    let port = skb.dev;
    let Some((_, p)) = port_of(ns, port) else {
        return RxOutcome::drop(SkbDropReason::NOT_SPECIFIED);
    };
    if p.state == BrPortState::BR_STATE_DISABLED {
        return RxOutcome::drop(SkbDropReason::BRIDGE_INGRESS_STP_STATE);
    }
    let dest: [u8; 6] = skb.data[0..6].try_into().expect("eth_type_trans checked");
    let src: [u8; 6] = skb.data[6..12].try_into().expect("eth_type_trans checked");
    if p.flags.contains(BrPortFlags::BR_LEARNING) {
        br_fdb_update(ns, br, port, &src);
        if T::ENABLED {
            t.step(Step::new(
                KernelFn::br_fdb_update,
                Check::BrFdbLearn { addr: src, port },
                Branch::Next,
            ));
        }
    }
    let promisc = ns
        .dev(br)
        .is_some_and(|d| d.flags.contains(DevFlags::IFF_PROMISC));
    let mut local_rcv = promisc;
    let pkt_type = if is_broadcast_ether_addr(&dest) {
        local_rcv = true;
        BrPktType::Broadcast
    } else if is_multicast_ether_addr(&dest) {
        // br_multicast_rcv / no querier: the host gets it, ports are flooded.
        local_rcv = true;
        BrPktType::Multicast
    } else {
        BrPktType::Unicast
    };
    if p.state == BrPortState::BR_STATE_LEARNING {
        put_nfct(ns, skb);
        return RxOutcome::drop(SkbDropReason::BRIDGE_INGRESS_STP_STATE);
    }
    let cb = BrSkbCb {
        ingress: port,
        src_port_isolated: p.flags.contains(BrPortFlags::BR_ISOLATED),
        local_orig: false,
        nf_bridge: skb.nf_bridge,
        nfct: skb.nfct,
        kind: TxKind::Forward,
    };
    let dst = match pkt_type {
        BrPktType::Unicast => br_fdb_find(ns, br, &dest),
        _ => None,
    };
    if T::ENABLED && pkt_type == BrPktType::Unicast {
        t.step(Step::new(
            KernelFn::br_handle_frame_finish,
            Check::BrFdbLookup {
                addr: dest,
                found: dst.is_some(),
                dst: dst.and_then(|h| h.dst).unwrap_or(IfIndex(0)),
                local: dst.is_some_and(|h| h.local),
            },
            Branch::Next,
        ));
    }
    let frame_len = skb.data.len();
    let sent = match dst {
        Some(hit) if hit.local => return br_pass_frame_up(ns, br, skb, t),
        Some(hit) => {
            let now = ns.jiffies;
            if let Some(e) = ns
                .dev_mut(br)
                .and_then(|d| d.bridge_mut())
                .and_then(|b| b.fdb.iter_mut().find(|e| e.addr == dest))
            {
                e.used = now;
            }
            match hit.dst {
                Some(to) => match br_forward(ns, br, to, &skb.data[..frame_len], &cb, t) {
                    Ok(()) => BrFlooded {
                        sent: 1,
                        reason: None,
                    },
                    Err(r) => BrFlooded {
                        sent: 0,
                        reason: Some(r),
                    },
                },
                None => BrFlooded::default(),
            }
        }
        None => br_flood(ns, br, pkt_type, &skb.data[..frame_len], &cb, t),
    };
    if local_rcv {
        let mut o = br_pass_frame_up(ns, br, skb, t);
        if o.verdict == Verdict::Drop && sent.sent > 0 {
            // The host refused its copy (no protocol for it, or a
            // promiscuous bridge's copy of someone else's frame: OTHERHOST);
            // the ports' copies went on.
            o.verdict = Verdict::Bridged;
            o.drop_reason = None;
            o.dev = port;
        }
        return o;
    }
    put_nfct(ns, skb);
    if sent.sent > 0 {
        RxOutcome::of(Verdict::Bridged)
    } else {
        RxOutcome::drop(sent.reason.unwrap_or(SkbDropReason::NOT_SPECIFIED))
    }
}

/// The bridge's reference on the frame's conntrack entry ends with it.
fn put_nfct(ns: &mut Netns, skb: &SkBuff<'_>) {
    if let Some(nf) = ns.nf.as_mut() {
        crate::netfilter::conntrack::nf_ct_put(&mut nf.ct, skb.nfct);
    }
}

/// Kernel: `br_pass_frame_up` → `br_netif_receive_skb`: the frame is
/// received again with `skb->dev` = the bridge, keeping the `pkt_type` it
/// got on the port and br_netfilter's state (whose PRE_ROUTING already ran:
/// `ip_rcv` skips it).
pub fn br_pass_frame_up<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    skb: &mut SkBuff<'_>,
    t: &mut T,
) -> RxOutcome {
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::br_pass_frame_up,
            Check::BrPassUp { br },
            Branch::Next,
        ));
    }
    let up = PassUp {
        pkt_type: skb.pkt_type,
        nf_bridge: skb.nf_bridge.map(|b| NfBridgeInfo {
            physoutdev: IfIndex(0),
            ..b
        }),
        nfct: skb.nfct,
    };
    __netif_receive_skb(ns, skb.data, br, Some(up), t)
}
