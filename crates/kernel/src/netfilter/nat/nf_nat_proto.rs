//! Models net/netfilter/nf_nat_proto.c: `nf_nat_ipv4_manip_pkt` (the
//! address with the IP header checksum, and the L4 part: TCP and UDP
//! ports with their checksums over the pseudo-header, the ICMP query id
//! with the ICMP checksum) and `nf_nat_icmp_reply_translation`, which
//! translates an ICMP error about a NATed connection: the quoted header
//! back the way its packet went, the ICMP checksum over the whole message
//! again, then the outer header.
//!
//! Checksums change incrementally (RFC 1624), as `csum_replace4` and
//! `inet_proto_csum_replace{2,4}` do for a packet whose checksum is not
//! left to the NIC (`CHECKSUM_PARTIAL` is not modelled).

use std::net::Ipv4Addr;

use crate::netfilter::NfInetHook;
use crate::netfilter::conntrack::nf_conntrack_core::{Ip4, nf_ip_checksum_bad};
use crate::netfilter::conntrack::proto_icmp::{ICMP_REDIRECT, icmp_has_id};
use crate::netfilter::conntrack::{
    IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IpConntrackDir, IpConntrackInfo,
    NfConn, NfConntrackTuple, ips,
};
use crate::netfilter::nat::{NatRewrite, NatVerdict, NfNatManipType};

fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

fn wr16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_be_bytes());
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// `csum_replace` over 16-bit words: the checksum `check` after the words
/// `old` became `new` (RFC 1624: HC' = ~(~HC + ~m + m')).
pub fn csum_replace(check: u16, old: &[u16], new: &[u16]) -> u16 {
    let mut s = !check as u32;
    for &o in old {
        s += !o as u32;
    }
    for &n in new {
        s += n as u32;
    }
    !fold(s)
}

fn words(a: Ipv4Addr) -> [u16; 2] {
    let o = a.octets();
    [
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]]),
    ]
}

/// `csum_replace4` / `inet_proto_csum_replace4` of an address at `off`.
fn replace4(b: &mut [u8], off: usize, from: Ipv4Addr, to: Ipv4Addr) {
    let c = csum_replace(rd16(b, off), &words(from), &words(to));
    wr16(b, off, c);
}

/// `inet_proto_csum_replace2`.
fn replace2(b: &mut [u8], off: usize, from: u16, to: u16) {
    let c = csum_replace(rd16(b, off), &[from], &[to]);
    wr16(b, off, c);
}

/// Kernel: `nf_nat_ipv4_manip_pkt`: the header at `iphdroff` (0, or the
/// quoted header of an ICMP error) takes `target`'s source or destination
/// (address and port / id). None when the packet is too short for what
/// must change (the kernel drops it).
pub(crate) fn nf_nat_ipv4_manip_pkt(
    pkt: &mut [u8],
    iphdroff: usize,
    target: &NfConntrackTuple,
    manip: NfNatManipType,
) -> Option<NatRewrite> {
    let iph = pkt.get(iphdroff..)?;
    if iph.len() < 20 {
        return None;
    }
    let ihl = (iph[0] & 0xf) as usize * 4;
    let hdroff = iphdroff + ihl;
    if pkt.len() < hdroff {
        return None;
    }
    let aoff = iphdroff
        + match manip {
            NfNatManipType::Src => 12,
            NfNatManipType::Dst => 16,
        };
    let old_addr = Ipv4Addr::new(pkt[aoff], pkt[aoff + 1], pkt[aoff + 2], pkt[aoff + 3]);
    let new_addr = match manip {
        NfNatManipType::Src => target.src,
        NfNatManipType::Dst => target.dst,
    };
    let (old_key, new_key) = l4proto_manip_pkt(pkt, iphdroff, hdroff, target, manip, old_addr)?;
    replace4(pkt, iphdroff + 10, old_addr, new_addr);
    pkt[aoff..aoff + 4].copy_from_slice(&new_addr.octets());
    Some(NatRewrite {
        manip,
        from: (old_addr, old_key),
        to: (new_addr, new_key),
        proto: pkt[iphdroff + 9],
    })
}

/// Kernel: `l4proto_manip_pkt`: the port (or ICMP id) and the L4
/// checksum; returns the key before and after (0 when there is none).
fn l4proto_manip_pkt(
    pkt: &mut [u8],
    iphdroff: usize,
    hdroff: usize,
    t: &NfConntrackTuple,
    manip: NfNatManipType,
    old_addr: Ipv4Addr,
) -> Option<(u16, u16)> {
    let new_addr = match manip {
        NfNatManipType::Src => t.src,
        NfNatManipType::Dst => t.dst,
    };
    let (pport, newport) = match manip {
        NfNatManipType::Src => (hdroff, t.sport),
        NfNatManipType::Dst => (hdroff + 2, t.dport),
    };
    let _ = iphdroff;
    match t.protonum {
        IPPROTO_TCP => {
            // Only 8 bytes are sure to be there (a header quoted in an
            // ICMP error): the checksum is updated only when it is held.
            if pkt.len() < hdroff + 8 {
                return None;
            }
            let old = rd16(pkt, pport);
            wr16(pkt, pport, newport);
            if pkt.len() >= hdroff + 20 {
                replace4(pkt, hdroff + 16, old_addr, new_addr);
                replace2(pkt, hdroff + 16, old, newport);
            }
            Some((old, newport))
        }
        IPPROTO_UDP | IPPROTO_UDPLITE => {
            if pkt.len() < hdroff + 8 {
                return None;
            }
            let old = rd16(pkt, pport);
            let do_csum = t.protonum == IPPROTO_UDPLITE || rd16(pkt, hdroff + 6) != 0;
            if do_csum {
                replace4(pkt, hdroff + 6, old_addr, new_addr);
                replace2(pkt, hdroff + 6, old, newport);
                if rd16(pkt, hdroff + 6) == 0 {
                    // CSUM_MANGLED_0
                    wr16(pkt, hdroff + 6, 0xffff);
                }
            }
            wr16(pkt, pport, newport);
            Some((old, newport))
        }
        IPPROTO_ICMP => {
            if pkt.len() < hdroff + 8 {
                return None;
            }
            if !icmp_has_id(pkt[hdroff]) {
                return Some((0, 0));
            }
            let old = rd16(pkt, hdroff + 4);
            replace2(pkt, hdroff + 2, old, t.sport);
            wr16(pkt, hdroff + 4, t.sport);
            Some((old, t.sport))
        }
        _ => Some((0, 0)),
    }
}

/// Kernel: `nf_nat_icmp_reply_translation`: an ICMP error RELATED to a
/// NATed connection. The quoted header is rewritten the other way
/// (`!manip`, with the tuple of the direction the quoted packet went), the
/// ICMP checksum recomputed over the whole message, then the outer header
/// takes the address the error must reach (or come from).
pub(crate) fn nf_nat_icmp_reply_translation(
    conn: &NfConn,
    ctinfo: IpConntrackInfo,
    hook: NfInetHook,
    pkt: &mut [u8],
) -> (NatVerdict, Option<NatRewrite>) {
    let Some(ip) = Ip4::parse(pkt) else {
        return (NatVerdict::Drop, None);
    };
    let hdrlen = ip.ihl;
    let pkt = &mut pkt[..ip.len];
    if pkt.len() < hdrlen + 8 + 20 {
        return (NatVerdict::Drop, None);
    }
    if nf_ip_checksum_bad(pkt, &ip, hdrlen, IPPROTO_ICMP) {
        return (NatVerdict::Drop, None);
    }
    if pkt[hdrlen] == ICMP_REDIRECT {
        if conn.status & ips::NAT_DONE_MASK != ips::NAT_DONE_MASK {
            return (NatVerdict::Drop, None);
        }
        if conn.status & ips::NAT_MASK != 0 {
            return (NatVerdict::Drop, None);
        }
    }
    let manip = NfNatManipType::of_hook(hook);
    let dir = ctinfo.dir();
    let mut bit = manip.status_bit();
    if dir == IpConntrackDir::Reply {
        bit ^= ips::NAT_MASK;
    }
    if conn.status & bit == 0 {
        return (NatVerdict::Accept, None);
    }
    let other = conn.tuple[dir.other() as usize];
    if nf_nat_ipv4_manip_pkt(pkt, hdrlen + 8, &other, manip.other()).is_none() {
        return (NatVerdict::Drop, None);
    }
    wr16(pkt, hdrlen + 2, 0);
    let c = crate::ipv4::ip_hdr::ip_compute_csum(&pkt[hdrlen..]);
    wr16(pkt, hdrlen + 2, c);
    let Some(mut target) = other.invert() else {
        return (NatVerdict::Drop, None);
    };
    target.protonum = IPPROTO_ICMP;
    match nf_nat_ipv4_manip_pkt(pkt, 0, &target, manip) {
        Some(rw) => (NatVerdict::Accept, (rw.from != rw.to).then_some(rw)),
        None => (NatVerdict::Drop, None),
    }
}
