//! Frames of the netfilter suite, built and read byte by byte: IPv4 with
//! TCP, UDP or ICMP, every checksum right unless asked otherwise, and a
//! parsed view ([`Pv`]) of a frame the lab saw at one end, from which the
//! other end's answer is built.

use std::net::Ipv4Addr;

use crate::packet::frames::{IP, inet_csum};

/// TCP flag bits.
pub const FIN: u8 = 0x01;
/// SYN.
pub const SYN: u8 = 0x02;
/// RST.
pub const RST: u8 = 0x04;
/// PSH.
pub const PSH: u8 = 0x08;
/// ACK.
pub const ACK: u8 = 0x10;

/// The IPv4 header fields a frame of the suite sets.
#[derive(Clone, Copy, Debug)]
pub struct Ip {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP ID (unique per injected frame: how the lab tells its frames apart).
    pub id: u16,
    /// TTL.
    pub ttl: u8,
    /// Protocol.
    pub proto: u8,
}

fn pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u32 {
    let mut sum = u32::from(proto) + len as u32;
    for c in src.octets().chunks(2).chain(dst.octets().chunks(2)) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    sum
}

/// The Ethernet frame `src_mac > dst_mac` holding `ip` and `l4`, with the
/// IP header checksum and the L4 checksum (TCP, UDP, ICMP) computed; a
/// UDP checksum is spoiled when `bad_l4_csum`.
pub fn frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    ip: &Ip,
    mut l4: Vec<u8>,
    bad_l4_csum: bool,
) -> Vec<u8> {
    let tot = 20 + l4.len();
    match ip.proto {
        6 if l4.len() >= 20 => {
            l4[16..18].fill(0);
            let c = inet_csum(pseudo_sum(ip.src, ip.dst, 6, l4.len()), &l4);
            l4[16..18].copy_from_slice(&c.to_be_bytes());
        }
        17 if l4.len() >= 8 => {
            l4[6..8].fill(0);
            let c = match inet_csum(pseudo_sum(ip.src, ip.dst, 17, l4.len()), &l4) {
                0 => 0xffff,
                c => c,
            };
            l4[6..8].copy_from_slice(&c.to_be_bytes());
        }
        1 if l4.len() >= 4 => {
            l4[2..4].fill(0);
            let c = inet_csum(0, &l4);
            l4[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
    if bad_l4_csum {
        let o = match ip.proto {
            6 => 16,
            17 => 6,
            _ => 2,
        };
        if l4.len() > o + 1 {
            l4[o + 1] ^= 0x5a;
        }
    }
    let mut f = Vec::with_capacity(IP + tot);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(tot as u16).to_be_bytes());
    f.extend_from_slice(&ip.id.to_be_bytes());
    f.extend_from_slice(&[0, 0, ip.ttl, ip.proto, 0, 0]);
    f.extend_from_slice(&ip.src.octets());
    f.extend_from_slice(&ip.dst.octets());
    let c = inet_csum(0, &f[IP..IP + 20]);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&l4);
    f
}

/// A TCP segment (no options, window 64240).
pub fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&(if flags & ACK != 0 { ack } else { 0 }).to_be_bytes());
    t.extend_from_slice(&[0x50, flags]);
    t.extend_from_slice(&64240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

/// A UDP datagram.
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An ICMP message: type, code, the 4 bytes after the checksum, the rest.
pub fn icmp(t: u8, code: u8, rest: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut m = vec![t, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(payload);
    m
}

/// An echo request or reply's id and sequence as the 4 bytes after the checksum.
pub fn echo_rest(id: u16, seq: u16) -> [u8; 4] {
    let [a, b] = id.to_be_bytes();
    let [c, d] = seq.to_be_bytes();
    [a, b, c, d]
}

/// `n` bytes of payload.
pub fn payload(n: usize, tag: u8) -> Vec<u8> {
    let mut v = b"fwdsim netfilter lab ".repeat(n / 21 + 1);
    v.truncate(n);
    if let Some(x) = v.last_mut() {
        *x = tag;
    }
    v
}

/// What the lab reads off a frame it saw at one end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pv {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP ID.
    pub id: u16,
    /// Protocol.
    pub proto: u8,
    /// TCP/UDP ports (0 otherwise).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// TCP sequence number.
    pub seq: u32,
    /// TCP acknowledgment number.
    pub ack: u32,
    /// TCP flags.
    pub flags: u8,
    /// TCP or UDP payload length.
    pub len: usize,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
    /// ICMP echo id and sequence.
    pub echo: (u16, u16),
    /// The IPv4 packet (header on).
    pub packet: Vec<u8>,
    /// The TCP/UDP/ICMP payload.
    pub data: Vec<u8>,
}

impl Pv {
    /// The sequence space the segment takes (payload, SYN, FIN).
    pub fn seq_len(&self) -> u32 {
        self.len as u32 + u32::from(self.flags & SYN != 0) + u32::from(self.flags & FIN != 0)
    }
}

/// Parses an Ethernet/IPv4 frame; `None` when it is not one.
pub fn parse(f: &[u8]) -> Option<Pv> {
    if f.len() < IP + 20 || f[12..14] != [8, 0] || f[IP] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(f[IP] & 0x0f) * 4;
    let tot = usize::from(u16::from_be_bytes([f[IP + 2], f[IP + 3]]));
    let packet = f.get(IP..IP + tot.max(ihl))?.to_vec();
    let l4 = packet.get(ihl..)?;
    let a = |o: usize| Ipv4Addr::new(f[IP + o], f[IP + o + 1], f[IP + o + 2], f[IP + o + 3]);
    let mut v = Pv {
        src: a(12),
        dst: a(16),
        id: u16::from_be_bytes([f[IP + 4], f[IP + 5]]),
        proto: f[IP + 9],
        sport: 0,
        dport: 0,
        seq: 0,
        ack: 0,
        flags: 0,
        len: 0,
        icmp: None,
        echo: (0, 0),
        packet: Vec::new(),
        data: Vec::new(),
    };
    let be16 = |o: usize| u16::from_be_bytes([l4[o], l4[o + 1]]);
    let be32 = |o: usize| u32::from_be_bytes([l4[o], l4[o + 1], l4[o + 2], l4[o + 3]]);
    match v.proto {
        6 if l4.len() >= 20 => {
            v.sport = be16(0);
            v.dport = be16(2);
            v.seq = be32(4);
            v.ack = be32(8);
            v.flags = l4[13];
            let off = usize::from(l4[12] >> 4) * 4;
            v.data = l4.get(off..).unwrap_or(&[]).to_vec();
            v.len = v.data.len();
        }
        17 if l4.len() >= 8 => {
            v.sport = be16(0);
            v.dport = be16(2);
            v.data = l4[8..].to_vec();
            v.len = v.data.len();
        }
        1 if l4.len() >= 8 => {
            v.icmp = Some((l4[0], l4[1]));
            v.echo = (be16(4), be16(6));
            v.data = l4[8..].to_vec();
            v.len = v.data.len();
        }
        _ => {}
    }
    v.packet = packet;
    Some(v)
}

/// `tcp 10.0.1.2:40000 > 10.0.2.2:80 [S] seq 1 ack 0 len 0`, or the
/// UDP/ICMP equivalent: the transport line of a report.
pub fn describe(f: &[u8]) -> String {
    let Some(v) = parse(f) else {
        return format!("{} bytes, not IPv4", f.len());
    };
    match v.proto {
        6 => {
            let fl: String = [(SYN, 'S'), (ACK, '.'), (FIN, 'F'), (RST, 'R'), (PSH, 'P')]
                .iter()
                .filter(|(b, _)| v.flags & b != 0)
                .map(|(_, c)| *c)
                .collect();
            format!(
                "tcp {}:{} > {}:{} [{fl}] seq {} ack {} len {} id {:#06x}",
                v.src, v.sport, v.dst, v.dport, v.seq, v.ack, v.len, v.id
            )
        }
        17 => format!(
            "udp {}:{} > {}:{} len {} id {:#06x}",
            v.src, v.sport, v.dst, v.dport, v.len, v.id
        ),
        1 => {
            let (t, c) = v.icmp.unwrap_or((255, 255));
            let inner = if matches!(t, 3 | 4 | 5 | 11 | 12) && v.data.len() >= 20 {
                let mut e = vec![0u8; IP];
                e[12] = 8;
                e.extend_from_slice(&v.data);
                let q = parse(&e).map(|q| {
                    format!(
                        " quoting {} {}:{} > {}:{} id {:#06x}",
                        q.proto, q.src, q.sport, q.dst, q.dport, q.id
                    )
                });
                q.unwrap_or_default()
            } else {
                format!(" echo id {} seq {}", v.echo.0, v.echo.1)
            };
            format!("icmp {} > {} {t}/{c}{inner} id {:#06x}", v.src, v.dst, v.id)
        }
        p => format!("proto {p} {} > {} id {:#06x}", v.src, v.dst, v.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses() {
        let ip = Ip {
            src: Ipv4Addr::new(10, 0, 1, 2),
            dst: Ipv4Addr::new(10, 0, 2, 2),
            id: 0x2001,
            ttl: 64,
            proto: 6,
        };
        let f = frame([2; 6], [3; 6], &ip, tcp(40000, 80, 7, 0, SYN, &[]), false);
        let v = parse(&f).unwrap();
        assert_eq!(
            (v.sport, v.dport, v.seq, v.flags, v.len),
            (40000, 80, 7, SYN, 0)
        );
        assert_eq!(v.seq_len(), 1);
        // The checksums verify: summing a correct header gives 0.
        assert_eq!(inet_csum(0, &f[IP..IP + 20]), 0);
        let t = &f[IP + 20..];
        assert_eq!(inet_csum(pseudo_sum(ip.src, ip.dst, 6, t.len()), t), 0);
        let u = frame(
            [2; 6],
            [3; 6],
            &Ip { proto: 17, ..ip },
            udp(1, 53, b"q"),
            false,
        );
        let t = &u[IP + 20..];
        assert_eq!(inet_csum(pseudo_sum(ip.src, ip.dst, 17, t.len()), t), 0);
        assert!(describe(&u).starts_with("udp 10.0.1.2:1 > 10.0.2.2:53"));
        let e = frame(
            [2; 6],
            [3; 6],
            &Ip { proto: 1, ..ip },
            icmp(3, 3, [0; 4], &u[IP..]),
            false,
        );
        assert!(describe(&e).contains("3/3 quoting 17"), "{}", describe(&e));
    }
}
