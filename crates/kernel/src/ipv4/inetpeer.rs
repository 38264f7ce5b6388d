//! Models the per-peer state of net/ipv4/inetpeer.c that rate-limits ICMP
//! errors and redirects: a token bucket per source address
//! (`rate_tokens`, `rate_last`) and the redirect counters. Fixed capacity:
//! when full the least recently used entry is reused, as the kernel's
//! garbage collection would drop old peers.

use std::net::Ipv4Addr;

/// Kernel: `struct inet_peer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InetPeer {
    /// `daddr`: the peer's address.
    pub daddr: Ipv4Addr,
    /// `rate_tokens`.
    pub rate_tokens: u64,
    /// `rate_last` (jiffies).
    pub rate_last: u64,
    /// `n_redirects`.
    pub n_redirects: u32,
    /// Last use (jiffies), for reuse when the table is full.
    pub dtime: u64,
    /// `rid`: fragments received from this peer (`ip_frag_too_far`).
    pub rid: u32,
}

/// The table of peers (`net->ipv4.peers`).
#[derive(Clone, Debug)]
pub struct InetPeers {
    slots: Vec<Option<InetPeer>>,
}

/// How many peers are kept.
pub const INET_PEERS: usize = 1024;

impl Default for InetPeers {
    fn default() -> Self {
        InetPeers {
            slots: vec![None; INET_PEERS],
        }
    }
}

impl InetPeers {
    /// Kernel: `inet_getpeer_v4(create = 1)`: the peer of `a`, created as
    /// the kernel creates it (`rate_last` 60 s in the past: a full bucket).
    pub fn get(&mut self, a: Ipv4Addr, now: u64) -> &mut InetPeer {
        let n = self.slots.len();
        let h = (u32::from(a).wrapping_mul(0x9e37_79b1) as usize) % n;
        let mut victim = h;
        let mut oldest = u64::MAX;
        for i in 0..n {
            let j = (h + i) % n;
            match self.slots[j] {
                Some(p) if p.daddr == a => {
                    victim = j;
                    break;
                }
                None => {
                    self.slots[j] = Some(InetPeer {
                        daddr: a,
                        rate_tokens: 0,
                        rate_last: now.wrapping_sub(60 * crate::HZ),
                        n_redirects: 0,
                        dtime: now,
                        rid: 0,
                    });
                    victim = j;
                    break;
                }
                Some(p) if p.dtime < oldest => {
                    oldest = p.dtime;
                    victim = j;
                }
                Some(_) => {}
            }
            if i == n - 1 {
                self.slots[victim] = Some(InetPeer {
                    daddr: a,
                    rate_tokens: 0,
                    rate_last: now.wrapping_sub(60 * crate::HZ),
                    n_redirects: 0,
                    dtime: now,
                    rid: 0,
                });
            }
        }
        let p = self.slots[victim].as_mut().expect("filled above");
        p.dtime = now;
        p
    }
}
