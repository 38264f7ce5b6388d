//! Models net/netfilter/nf_conntrack_proto_udp.c: `udp_error` and
//! `udplite_error` (length, checksum coverage, checksum at PRE_ROUTING)
//! and `nf_conntrack_udp_packet`: `udp_timeout` until the connection has
//! seen a reply, `udp_timeout_stream` and ASSURED for traffic that goes
//! on more than two seconds after the first packet.

use crate::netfilter::conntrack::nf_conntrack_core::{
    HZ, IPPROTO_UDP, IPPROTO_UDPLITE, L4Verdict, NfConn, PktCtx, csum_fold, csum_partial, ips,
    nf_ip_checksum_bad, pseudo_sum,
};

/// Kernel: `udp_error`: true when the datagram is INVALID.
fn udp_error(p: &PktCtx<'_>) -> bool {
    let l4 = p.l4();
    if l4.len() < 8 {
        return true;
    }
    if !p.whole() {
        return false;
    }
    let len = u16::from_be_bytes([l4[4], l4[5]]) as usize;
    if len > l4.len() || len < 8 {
        return true;
    }
    let check = u16::from_be_bytes([l4[6], l4[7]]);
    if check == 0 {
        return false;
    }
    p.check_csum() && nf_ip_checksum_bad(p.pkt, p.ip, p.dataoff, IPPROTO_UDP)
}

/// Kernel: `udplite_error`: the coverage must lie within the datagram and
/// the checksum (over the coverage) is mandatory.
fn udplite_error(p: &PktCtx<'_>) -> bool {
    let l4 = p.l4();
    if l4.len() < 8 {
        return true;
    }
    if !p.whole() {
        return false;
    }
    let udplen = l4.len();
    let mut cscov = u16::from_be_bytes([l4[4], l4[5]]) as usize;
    if cscov == 0 {
        cscov = udplen;
    } else if cscov < 8 || cscov > udplen {
        return true;
    }
    if u16::from_be_bytes([l4[6], l4[7]]) == 0 {
        return true;
    }
    if p.check_csum() {
        let sum = csum_partial(
            &l4[..cscov],
            pseudo_sum(p.ip.saddr, p.ip.daddr, IPPROTO_UDPLITE, udplen),
        );
        return csum_fold(sum) != 0;
    }
    false
}

/// Kernel: `nf_conntrack_udp_packet` (also `nf_conntrack_udplite_packet`).
pub(crate) fn nf_conntrack_udp_packet(conn: &mut NfConn, p: &PktCtx<'_>) -> L4Verdict {
    let bad = if p.ip.protocol == IPPROTO_UDPLITE {
        udplite_error(p)
    } else {
        udp_error(p)
    };
    if bad {
        return L4Verdict::Invalid;
    }
    let unreplied = p.sysctl.udp_timeout as u64 * HZ;
    let replied = p.sysctl.udp_timeout_stream as u64 * HZ;
    let status = conn.status;
    if status & ips::CONFIRMED == 0 {
        conn.udp_stream_ts = p.now + 2 * HZ;
    }
    if status & ips::SEEN_REPLY != 0 {
        let mut extra = unreplied;
        let mut stream = false;
        if p.now > conn.udp_stream_ts {
            extra = replied;
            stream = status & ips::ASSURED == 0;
        }
        conn.refresh(p.now, extra);
        if status & ips::NAT_CLASH != 0 {
            return L4Verdict::Accept;
        }
        if stream {
            conn.status |= ips::ASSURED;
        }
    } else {
        conn.refresh(p.now, unreplied);
    }
    L4Verdict::Accept
}
