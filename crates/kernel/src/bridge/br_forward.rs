//! Models net/bridge/br_forward.c and the bridge device's transmit
//! (net/bridge/br_device.c `br_dev_xmit`): `should_deliver` (hairpin, port
//! state, isolation), `br_forward` to one port, `br_flood` to every port
//! that takes the kind of frame, `__br_forward` (br_netfilter's FORWARD and
//! POST_ROUTING for bridged frames) and `br_dev_queue_push_xmit` (the
//! frame out of the port, if the port is up and the frame fits its MTU).

use crate::bridge::br_fdb::br_fdb_find;
use crate::bridge::{BrPortFlags, BrPortState, NfBridgeInfo};
use crate::core::dropreason::SkbDropReason;
use crate::core::tx::TxKind;
use crate::netfilter::conntrack::Nfct;
use crate::netns::{IfIndex, Netns};
use crate::trace::{Branch, Check, KernelFn, NoTrace, Step, Tracer};

/// Kernel: `enum br_pkt_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrPktType {
    /// `BR_PKT_UNICAST`.
    Unicast,
    /// `BR_PKT_MULTICAST`.
    Multicast,
    /// `BR_PKT_BROADCAST`.
    Broadcast,
}

/// Kernel: `struct br_input_skb_cb` and the skb fields the forward path
/// reads: where the frame came from and what it carries.
#[derive(Clone, Copy, Debug)]
pub struct BrSkbCb {
    /// `skb->dev` on entry: the ingress port, or the bridge for the host's
    /// own frames.
    pub ingress: IfIndex,
    /// `src_port_isolated`: the ingress port is isolated.
    pub src_port_isolated: bool,
    /// `local_orig`: sent by the host on the bridge device (`br_dev_xmit`).
    pub local_orig: bool,
    /// `skb->nf_bridge`.
    pub nf_bridge: Option<NfBridgeInfo>,
    /// `skb->_nfct`.
    pub nfct: Nfct,
    /// What the frames sent are, in `ns.tx`.
    pub kind: TxKind,
}

/// Kernel: `should_deliver`: not back out of the ingress port unless it is
/// in hairpin mode, only to a forwarding port, and not from an isolated
/// port to an isolated port (`br_skb_isolated`).
pub fn should_deliver(ns: &Netns, to: IfIndex, cb: &BrSkbCb) -> bool {
    let Some(p) = ns.dev(to).and_then(|d| d.brport.as_ref()) else {
        return false;
    };
    (p.flags.contains(BrPortFlags::BR_HAIRPIN_MODE) || cb.ingress != to)
        && p.state == BrPortState::BR_STATE_FORWARDING
        && !(cb.src_port_isolated && p.flags.contains(BrPortFlags::BR_ISOLATED))
}

/// Kernel: `br_forward` to port `to`: `__br_forward` when `should_deliver`
/// says so. Err: why the frame did not leave by `to` (`NOT_SPECIFIED` when
/// `should_deliver` refused, as `br_forward` frees it; `NETFILTER_DROP`
/// from br_netfilter's hooks).
pub fn br_forward<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    to: IfIndex,
    frame: &[u8],
    cb: &BrSkbCb,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let r = if should_deliver(ns, to, cb) {
        __br_forward(ns, br, to, frame, cb, t)
    } else {
        Err(SkbDropReason::NOT_SPECIFIED)
    };
    if T::ENABLED {
        t.step(Step::new(
            KernelFn::br_forward,
            Check::BrDeliver {
                to,
                sent: r.is_ok(),
            },
            Branch::Next,
        ));
    }
    r
}

/// What a flood did: how many ports the frame left by, and why the last
/// port that should have had it did not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BrFlooded {
    /// Copies sent.
    pub sent: usize,
    /// The last refusal after `should_deliver` (a hook's drop, a port down).
    pub reason: Option<SkbDropReason>,
}

/// Kernel: `br_flood`: every port of the bridge, in `port_list` order, that
/// takes this kind of frame — unknown unicast needs `BR_FLOOD`, multicast
/// `BR_MCAST_FLOOD` and broadcast `BR_BCAST_FLOOD` (both waived for the
/// host's own frames), no `BR_PROXYARP` — and that `should_deliver`
/// accepts. In the kernel the last of them gets the frame itself and the
/// others clones, so a frame no port took ends with the last one's reason.
pub fn br_flood<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    pkt_type: BrPktType,
    frame: &[u8],
    cb: &BrSkbCb,
    t: &mut T,
) -> BrFlooded {
    t.enter(KernelFn::br_flood);
    let sent = flood(ns, br, pkt_type, frame, cb, t);
    t.leave();
    sent
}

fn flood<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    pkt_type: BrPktType,
    frame: &[u8],
    cb: &BrSkbCb,
    t: &mut T,
) -> BrFlooded {
    let ports = match ns.dev(br).and_then(|d| d.bridge()) {
        Some(b) => b.ports.clone(),
        None => return BrFlooded::default(),
    };
    let mut out = BrFlooded::default();
    for p in ports {
        let Some(flags) = ns.dev(p).and_then(|d| d.brport.as_ref()).map(|x| x.flags) else {
            continue;
        };
        let takes = match pkt_type {
            BrPktType::Unicast => flags.contains(BrPortFlags::BR_FLOOD),
            BrPktType::Multicast => flags.contains(BrPortFlags::BR_MCAST_FLOOD) || cb.local_orig,
            BrPktType::Broadcast => flags.contains(BrPortFlags::BR_BCAST_FLOOD) || cb.local_orig,
        };
        if !takes || flags.contains(BrPortFlags::BR_PROXYARP) {
            continue;
        }
        if !should_deliver(ns, p, cb) {
            continue;
        }
        match br_forward(ns, br, p, frame, cb, t) {
            Ok(()) => out.sent += 1,
            Err(r) => out.reason = Some(r),
        }
    }
    out
}

/// Kernel: `__br_forward` → `br_forward_finish` → `br_dev_queue_push_xmit`:
/// a copy of the frame (`deliver_clone`) passes br_netfilter's FORWARD and
/// POST_ROUTING when it was bridged (not for the host's own frames, whose
/// hooks ran in the IP layer), then leaves by `to` if `to` is up and the
/// frame fits its MTU (`is_skb_forwardable`: MTU + 14 + 4 bytes).
fn __br_forward<T: Tracer>(
    ns: &mut Netns,
    br: IfIndex,
    to: IfIndex,
    frame: &[u8],
    cb: &BrSkbCb,
    t: &mut T,
) -> Result<(), SkbDropReason> {
    let mut buf = ns.skb_pool.pop().unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(frame);
    let passed = if cb.local_orig {
        true
    } else {
        crate::bridge::br_netfilter_hooks::br_nf_forward(ns, br, to, &mut buf, cb, t)
    };
    let fits = ns
        .dev(to)
        .is_some_and(|d| d.is_up() && buf.len() <= d.mtu as usize + 14 + 4);
    let r = if !passed {
        Err(SkbDropReason::NETFILTER_DROP)
    } else if !fits {
        Err(SkbDropReason::NOT_SPECIFIED)
    } else {
        let at = ns.jiffies;
        ns.tx.push(to, cb.kind, at, |b| b.extend_from_slice(&buf));
        Ok(())
    };
    ns.skb_pool.push(buf);
    r
}

/// Kernel: `br_dev_xmit`: the host sends frame `f` of `ns.tx` on bridge
/// `br`: a broadcast or multicast is flooded to every port, a unicast goes
/// to the port the FDB knows (nowhere for a local entry) or is flooded.
/// The frames that leave the ports follow it in `ns.tx`.
pub fn br_dev_xmit(ns: &mut Netns, br: IfIndex, f: usize) {
    let Some(tf) = ns.tx.frames.get(f).cloned() else {
        return;
    };
    let mut frame = ns.skb_pool.pop().unwrap_or_default();
    frame.clear();
    frame.extend_from_slice(ns.tx.frame(&tf));
    if frame.len() < 14 {
        ns.skb_pool.push(frame);
        return;
    }
    let dest: [u8; 6] = frame[0..6].try_into().expect("14 bytes");
    let cb = BrSkbCb {
        ingress: br,
        src_port_isolated: false,
        local_orig: true,
        nf_bridge: None,
        nfct: Nfct::None,
        kind: tf.kind,
    };
    let t = &mut NoTrace;
    if crate::bridge::is_broadcast_ether_addr(&dest) {
        br_flood(ns, br, BrPktType::Broadcast, &frame, &cb, t);
    } else if crate::bridge::is_multicast_ether_addr(&dest) {
        br_flood(ns, br, BrPktType::Multicast, &frame, &cb, t);
    } else {
        match br_fdb_find(ns, br, &dest) {
            Some(hit) => {
                if let Some(to) = hit.dst {
                    let _ = br_forward(ns, br, to, &frame, &cb, t);
                }
            }
            None => {
                br_flood(ns, br, BrPktType::Unicast, &frame, &cb, t);
            }
        }
    }
    ns.skb_pool.push(frame);
}
