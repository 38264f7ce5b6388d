//! Models net/ipv4/netfilter/nf_reject_ipv4.c, the answers of the REJECT
//! target: `nf_send_unreach` (an ICMP destination unreachable through
//! `icmp_send`, not for later fragments nor for a packet whose L4 checksum
//! is bad) and `nf_send_reset` (a TCP RST built from the segment, routed
//! back and sent with `ip_local_out`).

use std::net::Ipv4Addr;

use crate::core::skbuff::SkBuff;
use crate::ipv4::ip_hdr::{Iphdr, ip_compute_csum};
use crate::netfilter::NfInetHook;
use crate::netfilter::xtables::ip_tables::RejectWith;
use crate::netns::Netns;
use crate::trace::Tracer;
use crate::uapi::RtcFlags;

/// The REJECT target's answer for `skb` at `hook`.
pub fn reject<T: Tracer>(
    ns: &mut Netns,
    skb: &mut SkBuff<'_>,
    hook: NfInetHook,
    with: RejectWith,
    t: &mut T,
) {
    match with.icmp_code() {
        Some(code) => nf_send_unreach(ns, skb, code, t),
        None => nf_send_reset(ns, skb, hook),
    }
}

/// One's-complement sum of the L4 bytes with the IPv4 pseudo-header:
/// whether the checksum verifies (`nf_ip_checksum`).
fn l4_checksum_ok(ip: &[u8]) -> bool {
    let h = Iphdr(ip);
    let ihl = h.ihl() as usize * 4;
    let end = (h.tot_len() as usize).min(ip.len());
    let Some(data) = ip.get(ihl..end) else {
        return false;
    };
    let proto = h.protocol();
    let mut sum: u32 = 0;
    if proto != 1 {
        for w in [h.saddr().octets(), h.daddr().octets()] {
            sum +=
                u16::from_be_bytes([w[0], w[1]]) as u32 + u16::from_be_bytes([w[2], w[3]]) as u32;
        }
        sum += proto as u32 + data.len() as u32;
    }
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u32) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// `nf_reject_verify_csum`: protocols whose checksum covers the whole
/// payload with the 16-bit one's complement sum (UDP only when it has one).
fn verify_csum(ip: &[u8]) -> bool {
    let h = Iphdr(ip);
    let ihl = h.ihl() as usize * 4;
    match h.protocol() {
        17 => ip.get(ihl + 6..ihl + 8).is_some_and(|c| c != [0, 0]),
        47 | 51 | 50 | 132 | 136 | 33 => false,
        _ => true,
    }
}

/// Kernel: `nf_send_unreach`.
pub fn nf_send_unreach<T: Tracer>(ns: &mut Netns, skb: &mut SkBuff<'_>, code: u8, t: &mut T) {
    let nh = skb.network_header as usize;
    let end = (nh + skb.len as usize).min(skb.data.len());
    let ip = &skb.data[nh..end];
    if Iphdr(ip).frag_off() & crate::ipv4::ip_hdr::IP_OFFSET != 0 {
        return;
    }
    if verify_csum(ip) && !l4_checksum_ok(ip) {
        return;
    }
    crate::ipv4::icmp::icmp_send(ns, skb, crate::ipv4::icmp::ICMP_DEST_UNREACH, code, 0, t);
}

/// Kernel: `nf_send_reset`: no reset for a fragment, a non-TCP packet, a
/// RST, a bad checksum or a broadcast/multicast route; the RST has TOS 0,
/// id 0, DF and the route's hop limit, ports swapped, and `seq` from the
/// segment's ACK or an ACK of everything it carried. It is sent with
/// `ip_local_out`, or, for a packet that came in through a bridge port with
/// br_netfilter on (`nf_bridge_info_exists`), straight out of that port.
pub fn nf_send_reset(ns: &mut Netns, skb: &mut SkBuff<'_>, hook: NfInetHook) {
    let _ = hook;
    let nh = skb.network_header as usize;
    let end = (nh + skb.len as usize).min(skb.data.len());
    let ip = &skb.data[nh..end];
    let h = Iphdr(ip);
    if h.frag_off() & crate::ipv4::ip_hdr::IP_OFFSET != 0 || h.protocol() != 6 {
        return;
    }
    let ihl = h.ihl() as usize * 4;
    let Some(th) = ip.get(ihl..ihl + 20) else {
        return;
    };
    let flags = th[13];
    if flags & 0x04 != 0 || !l4_checksum_ok(ip) {
        return;
    }
    if skb.dst.is_some_and(|rt| {
        rt.rt_flags.0 & (RtcFlags::RTCF_BROADCAST.0 | RtcFlags::RTCF_MULTICAST.0) != 0
    }) {
        return;
    }
    let (osrc, odst) = (h.saddr(), h.daddr());
    let doff = (th[12] >> 4) as usize * 4;
    let seq = u32::from_be_bytes([th[4], th[5], th[6], th[7]]);
    let ack_seq = u32::from_be_bytes([th[8], th[9], th[10], th[11]]);
    let payload = (ip.len().saturating_sub(ihl + doff)) as u32;
    let (rseq, rack, rflags) = if flags & 0x10 != 0 {
        (ack_seq, 0, 0x04u8)
    } else {
        let a = seq
            .wrapping_add((flags & 0x02 != 0) as u32)
            .wrapping_add((flags & 0x01 != 0) as u32)
            .wrapping_add(payload);
        (0, a, 0x14)
    };
    let (sport, dport) = ([th[2], th[3]], [th[0], th[1]]);
    // ip_route_me_harder: the route back to the segment's source; a
    // source that is not one of ours is kept (FLOWI_FLAG_ANYSRC).
    let local_src = crate::ipv4::fib_frontend::inet_addr_type_table(
        ns,
        odst,
        crate::netns::rt_table::RT_TABLE_LOCAL,
    ) == crate::uapi::RouteType::RTN_LOCAL;
    let mut fl4 = crate::flow::Flowi4::new(
        osrc,
        if local_src {
            odst
        } else {
            Ipv4Addr::UNSPECIFIED
        },
    );
    fl4.flowi4_proto = 6;
    let mut res = crate::flow::FibResult::empty();
    let Ok(rt) = crate::ipv4::route_output::ip_route_output_key_hash_rcu(
        ns,
        &mut fl4,
        &mut res,
        &mut crate::trace::NoTrace,
    ) else {
        return;
    };
    // ip4_dst_hoplimit: no hop-limit metric in the model, so the default TTL.
    let ttl = ns.sysctl.ip_default_ttl as u8;
    let mut pkt = [0u8; 40];
    pkt[..12].copy_from_slice(&[0x45, 0, 0, 40, 0, 0, 0x40, 0, ttl, 6, 0, 0]);
    pkt[12..16].copy_from_slice(&odst.octets());
    pkt[16..20].copy_from_slice(&osrc.octets());
    pkt[20..22].copy_from_slice(&sport);
    pkt[22..24].copy_from_slice(&dport);
    pkt[24..28].copy_from_slice(&rseq.to_be_bytes());
    pkt[28..32].copy_from_slice(&rack.to_be_bytes());
    pkt[32] = 0x50;
    pkt[33] = rflags;
    let mut ph = [0u8; 32];
    ph[0..4].copy_from_slice(&odst.octets());
    ph[4..8].copy_from_slice(&osrc.octets());
    ph[9] = 6;
    ph[10..12].copy_from_slice(&20u16.to_be_bytes());
    ph[12..].copy_from_slice(&pkt[20..40]);
    let c = ip_compute_csum(&ph);
    pkt[36..38].copy_from_slice(&c.to_be_bytes());
    let c = ip_compute_csum(&pkt[..20]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    if pkt.len() as u32 > crate::ipv4::ip_output::route_mtu(ns, &rt) {
        return;
    }
    // A packet br_netfilter saw (it came in through a bridge port): the
    // reset goes straight out of that port, the segment's MAC addresses
    // swapped, without the IP output path (so as not to carry the host's
    // own source MAC on a bridged flow).
    if let Some(nb) = skb.nf_bridge {
        let Some(eth) = nh.checked_sub(14).and_then(|m| skb.data.get(m..nh)) else {
            return;
        };
        let (odst_mac, osrc_mac) = (
            <[u8; 6]>::try_from(&eth[..6]),
            <[u8; 6]>::try_from(&eth[6..12]),
        );
        let (Ok(odst_mac), Ok(osrc_mac)) = (odst_mac, osrc_mac) else {
            return;
        };
        if nb.physindev == crate::netns::IfIndex(0) || ns.dev(nb.physindev).is_none() {
            return;
        }
        let at = ns.jiffies;
        crate::core::dev::dev_queue_xmit(
            ns,
            nb.physindev,
            crate::core::tx::TxKind::Local,
            at,
            |b| {
                b.extend_from_slice(&osrc_mac);
                b.extend_from_slice(&odst_mac);
                b.extend_from_slice(&0x0800u16.to_be_bytes());
                b.extend_from_slice(&pkt);
            },
        );
        return;
    }
    // nf_ct_attach: the reset belongs to the segment's connection, as a
    // related packet in the other direction.
    let nfct = match skb.nfct {
        crate::netfilter::conntrack::Nfct::Ct { idx, ctinfo } => {
            use crate::netfilter::conntrack::{IpConntrackDir, IpConntrackInfo};
            crate::netfilter::conntrack::Nfct::Ct {
                idx,
                ctinfo: if ctinfo.dir() == IpConntrackDir::Original {
                    IpConntrackInfo::RelatedReply
                } else {
                    IpConntrackInfo::Related
                },
            }
        }
        other => other,
    };
    let _ = crate::ipv4::ip_output::ip_local_out_ct(
        ns,
        &rt,
        &mut pkt,
        nfct,
        &mut crate::trace::NoTrace,
    );
}
