//! Models net/ethernet/eth.c `eth_type_trans`: who a frame was addressed to
//! (`pkt_type`, from the destination MAC against the device's) and its
//! protocol (the EtherType).

use crate::core::skbuff::{PacketType, SkBuff};
use crate::netns::Netns;

/// `ETH_HLEN`.
pub const ETH_HLEN: usize = 14;

/// Kernel: `eth_type_trans`: sets `skb->pkt_type` and `skb->protocol` and
/// moves the network header past the Ethernet header. Returns false for a
/// frame too short to carry an Ethernet header.
pub fn eth_type_trans(ns: &Netns, skb: &mut SkBuff<'_>) -> bool {
    if skb.data.len() < ETH_HLEN {
        return false;
    }
    let dst: [u8; 6] = skb.data[0..6].try_into().expect("6 bytes");
    let dev = ns.dev(skb.dev);
    let dev_addr = dev.map(|d| d.dev_addr).unwrap_or([0; 6]);
    let broadcast = dev.map(|d| d.broadcast).unwrap_or([0xff; 6]);
    skb.pkt_type = if dst == dev_addr {
        PacketType::Host
    } else if dst[0] & 1 != 0 {
        if dst == broadcast {
            PacketType::Broadcast
        } else {
            PacketType::Multicast
        }
    } else {
        PacketType::OtherHost
    };
    skb.protocol = u16::from_be_bytes([skb.data[12], skb.data[13]]);
    skb.mac_header = 0;
    skb.network_header = ETH_HLEN as u16;
    skb.len = (skb.data.len() - ETH_HLEN) as u32;
    true
}
