//! Models drivers/net/veth.c `veth_xmit`: a frame sent on one end of a veth
//! pair is received by the other end (`veth_forward_skb` →
//! `__dev_forward_skb`, which runs `eth_type_trans` with the peer's
//! address), in the same or another namespace. The topology
//! (`crate::topology`) knows which device is the peer and calls
//! [`veth_xmit`] to decide whether the frame gets there.

use crate::core::dropreason::SkbDropReason;
use crate::netns::{IfIndex, Netns};

/// Kernel: `veth_xmit` from a device (up or not: `sender_up`) to its peer
/// `peer` in `rx_ns` (the same namespace or another). Ok: the peer receives the
/// frame (`netif_rx`). Err: it is dropped — the sending end is down
/// (`DEV_READY`, from `__dev_queue_xmit`), or the peer is down or the frame
/// exceeds the peer's MTU (`__dev_forward_skb`: `NOT_SPECIFIED`, counted in
/// the peer's `rx_dropped`).
pub fn veth_xmit(
    sender_up: bool,
    rx_ns: &mut Netns,
    peer: IfIndex,
    frame: &[u8],
) -> Result<(), SkbDropReason> {
    if !sender_up {
        return Err(SkbDropReason::DEV_READY);
    }
    // is_skb_forwardable: up, and no longer than MTU + header + VLAN tag.
    let ok = rx_ns
        .dev(peer)
        .is_some_and(|d| d.is_up() && frame.len() <= d.mtu as usize + 14 + 4);
    if !ok {
        rx_ns.dev_stats.entry(peer).or_default().rx_dropped += 1;
        return Err(SkbDropReason::NOT_SPECIFIED);
    }
    Ok(())
}
