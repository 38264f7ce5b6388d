//! Reading and writing the fields of an IPv4 header in place (struct iphdr,
//! include/uapi/linux/ip.h), at the skb's network header. These are offsets,
//! not a parser: `ip_rcv_core` makes the kernel's checks in the kernel's
//! order before anything else reads a field.

use std::net::Ipv4Addr;

use pnet_packet::ipv4::Ipv4Packet;

/// `IP_DF`: don't fragment.
pub const IP_DF: u16 = 0x4000;
/// `IP_MF`: more fragments.
pub const IP_MF: u16 = 0x2000;
/// `IP_OFFSET`: the fragment offset mask.
pub const IP_OFFSET: u16 = 0x1fff;

/// A view of an IPv4 header at the start of its bytes (at least 20, checked
/// by the caller): pnet_packet's `Ipv4Packet`, which checks only the minimum
/// size, so that `ip_rcv_core` can make the kernel's checks in the kernel's
/// order before anything else reads a field.
#[derive(Clone, Copy, Debug)]
pub struct Iphdr<'a>(pub &'a [u8]);

impl<'a> Iphdr<'a> {
    #[inline]
    fn p(&self) -> Ipv4Packet<'a> {
        Ipv4Packet::new(self.0).expect("the caller checked the 20 bytes")
    }
    /// `version`.
    pub fn version(&self) -> u8 {
        self.p().get_version()
    }
    /// `ihl` (in 32-bit words).
    pub fn ihl(&self) -> u8 {
        self.p().get_header_length()
    }
    /// `tos`.
    pub fn tos(&self) -> u8 {
        (self.p().get_dscp() << 2) | self.p().get_ecn()
    }
    /// `tot_len`.
    pub fn tot_len(&self) -> u16 {
        self.p().get_total_length()
    }
    /// `id`.
    pub fn id(&self) -> u16 {
        self.p().get_identification()
    }
    /// `frag_off` (flags and offset).
    pub fn frag_off(&self) -> u16 {
        ((self.p().get_flags() as u16) << 13) | self.p().get_fragment_offset()
    }
    /// `ttl`.
    pub fn ttl(&self) -> u8 {
        self.p().get_ttl()
    }
    /// `protocol`.
    pub fn protocol(&self) -> u8 {
        self.p().get_next_level_protocol().0
    }
    /// `check`.
    pub fn check(&self) -> u16 {
        self.p().get_checksum()
    }
    /// `saddr`.
    pub fn saddr(&self) -> Ipv4Addr {
        self.p().get_source()
    }
    /// `daddr`.
    pub fn daddr(&self) -> Ipv4Addr {
        self.p().get_destination()
    }
    /// `ip_is_fragment`: MF set or a nonzero offset.
    pub fn is_fragment(&self) -> bool {
        self.frag_off() & (IP_MF | IP_OFFSET) != 0
    }
}

/// `ip_fast_csum`-style: the ones' complement sum of 16-bit words, folded;
/// 0 over a header whose checksum is right.
pub fn ip_compute_csum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u32) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Kernel: `ip_decrease_ttl`: TTL - 1 with the incremental checksum update
/// of RFC 1624 (add 0x0100 to the checksum with end-around carry).
/// Returns (old ttl, old check, new check).
pub fn ip_decrease_ttl(h: &mut [u8]) -> (u8, u16, u16) {
    let old_ttl = h[8];
    let old = u16::from_be_bytes([h[10], h[11]]);
    let mut check = old as u32 + 0x0100;
    check += (check >= 0xffff) as u32;
    let new = check as u16;
    h[8] = old_ttl.wrapping_sub(1);
    h[10..12].copy_from_slice(&new.to_be_bytes());
    (old_ttl, old, new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrease_ttl_matches_a_full_recomputation() {
        let mut h = [
            0x45, 0, 0, 84, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 0, 1, 2, 10, 0, 2, 2,
        ];
        let c = ip_compute_csum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(ip_compute_csum(&h), 0);
        let (ttl, _, _) = ip_decrease_ttl(&mut h);
        assert_eq!((ttl, h[8]), (64, 63));
        assert_eq!(
            ip_compute_csum(&h),
            0,
            "incremental update keeps the header valid"
        );
    }
}
