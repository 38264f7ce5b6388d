//! Reading and writing the fields of an IPv4 header in place (struct iphdr,
//! include/uapi/linux/ip.h), at the skb's network header. These are offsets,
//! not a parser: `ip_rcv_core` makes the kernel's checks in the kernel's
//! order before anything else reads a field.

use std::net::Ipv4Addr;

/// `IP_DF`: don't fragment.
pub const IP_DF: u16 = 0x4000;
/// `IP_MF`: more fragments.
pub const IP_MF: u16 = 0x2000;
/// `IP_OFFSET`: the fragment offset mask.
pub const IP_OFFSET: u16 = 0x1fff;

/// A view of an IPv4 header at the start of `b` (at least 20 bytes, checked by the caller).
#[derive(Clone, Copy, Debug)]
pub struct Iphdr<'a>(pub &'a [u8]);

impl Iphdr<'_> {
    /// `version`.
    pub fn version(&self) -> u8 {
        self.0[0] >> 4
    }
    /// `ihl` (in 32-bit words).
    pub fn ihl(&self) -> u8 {
        self.0[0] & 0x0f
    }
    /// `tos`.
    pub fn tos(&self) -> u8 {
        self.0[1]
    }
    /// `tot_len`.
    pub fn tot_len(&self) -> u16 {
        u16::from_be_bytes([self.0[2], self.0[3]])
    }
    /// `id`.
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.0[4], self.0[5]])
    }
    /// `frag_off` (flags and offset).
    pub fn frag_off(&self) -> u16 {
        u16::from_be_bytes([self.0[6], self.0[7]])
    }
    /// `ttl`.
    pub fn ttl(&self) -> u8 {
        self.0[8]
    }
    /// `protocol`.
    pub fn protocol(&self) -> u8 {
        self.0[9]
    }
    /// `check`.
    pub fn check(&self) -> u16 {
        u16::from_be_bytes([self.0[10], self.0[11]])
    }
    /// `saddr`.
    pub fn saddr(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[12], self.0[13], self.0[14], self.0[15])
    }
    /// `daddr`.
    pub fn daddr(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[16], self.0[17], self.0[18], self.0[19])
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
