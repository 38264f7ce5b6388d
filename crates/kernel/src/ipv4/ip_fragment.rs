//! Models the reassembly of net/ipv4/ip_fragment.c (`ip_defrag`,
//! `ip_frag_queue`, `ip_frag_reasm`, `ip_expire`) for packets delivered to
//! this host: queues keyed by source, destination, ID and protocol; the last
//! fragment fixes the length; overlapping fragments kill the queue; a
//! complete datagram goes up as one packet; a queue older than
//! `ipfrag_time` expires (`ReasmTimeout`, and ICMP time exceeded when its
//! first fragment had arrived). The capture's clock drives expiry.

use std::net::Ipv4Addr;

use crate::core::dropreason::SkbDropReason;
use crate::ipv4::ip_hdr::{IP_MF, IP_OFFSET, Iphdr};

/// One reassembly queue (`struct ipq`).
#[derive(Clone, Debug)]
pub struct Ipq {
    /// In use.
    pub live: bool,
    /// `saddr`, `daddr`, `id`, `protocol`.
    pub key: (Ipv4Addr, Ipv4Addr, u16, u8),
    /// When the first fragment arrived (jiffies).
    pub start: u64,
    /// `q.len`: the datagram's payload length once known (largest end seen).
    pub len: usize,
    /// `INET_FRAG_LAST_IN`.
    pub last_in: bool,
    /// `INET_FRAG_FIRST_IN`.
    pub first_in: bool,
    /// The payload ranges received, sorted.
    pub ranges: Vec<(usize, usize)>,
    /// The first fragment's IP header.
    pub header: Vec<u8>,
    /// The payload bytes at their offsets.
    pub data: Vec<u8>,
    /// The device the first fragment came in on.
    pub dev: crate::netns::IfIndex,
}

impl Default for Ipq {
    fn default() -> Self {
        Ipq {
            live: false,
            key: (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, 0),
            start: 0,
            len: 0,
            last_in: false,
            first_in: false,
            ranges: Vec::new(),
            header: Vec::new(),
            data: Vec::new(),
            dev: crate::netns::IfIndex(0),
        }
    }
}

/// What became of a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defrag {
    /// Queued; the datagram is not complete yet.
    Queued,
    /// The datagram is complete: the queue index to deliver from.
    Complete(usize),
    /// The fragment was dropped (the queue may have been killed too).
    Drop(SkbDropReason),
}

/// The reassembly queues of a namespace.
#[derive(Clone, Debug, Default)]
pub struct FragQueues {
    /// The queues (a small fixed pool, reused).
    pub q: Vec<Ipq>,
}

/// How many datagrams are reassembled at once.
pub const MAX_QUEUES: usize = 64;

impl FragQueues {
    /// Expired queues (older than `timeout` jiffies at `now`): their slot is
    /// freed; returns whether the first fragment had arrived, and the first
    /// fragment's header and payload start for the ICMP error.
    pub fn expire(&mut self, now: u64, timeout: u64) -> Option<usize> {
        self.q
            .iter()
            .position(|q| q.live && now.saturating_sub(q.start) > timeout)
    }

    /// Frees a queue (`inet_frag_kill`), keeping its buffers for reuse.
    pub fn kill(&mut self, i: usize) {
        let q = &mut self.q[i];
        q.live = false;
        q.ranges.clear();
        q.header.clear();
        q.data.clear();
    }

    /// Kernel: `ip_defrag` → `ip_frag_queue` for the fragment `pkt` (IP
    /// header and payload, already trimmed to its total length).
    pub fn queue(&mut self, pkt: &[u8], dev: crate::netns::IfIndex, now: u64) -> Defrag {
        let h = Iphdr(pkt);
        let ihl = h.ihl() as usize * 4;
        let key = (h.saddr(), h.daddr(), h.id(), h.protocol());
        let i = match self.q.iter().position(|q| q.live && q.key == key) {
            Some(i) => i,
            None => {
                let i = match self.q.iter().position(|q| !q.live) {
                    Some(i) => i,
                    None if self.q.len() < MAX_QUEUES => {
                        self.q.push(Ipq::default());
                        self.q.len() - 1
                    }
                    None => return Defrag::Drop(SkbDropReason::NOMEM),
                };
                let q = &mut self.q[i];
                q.live = true;
                q.key = key;
                q.start = now;
                q.len = 0;
                q.last_in = false;
                q.first_in = false;
                i
            }
        };
        let frag_off = h.frag_off();
        let offset = ((frag_off & IP_OFFSET) as usize) << 3;
        let mut end = offset + pkt.len().saturating_sub(ihl);
        let q = &mut self.q[i];
        if frag_off & IP_MF == 0 {
            if end < q.len || (q.last_in && end != q.len) {
                self.kill(i);
                return Defrag::Drop(SkbDropReason::NOT_SPECIFIED);
            }
            q.last_in = true;
            q.len = end;
        } else {
            end &= !7;
            if end > q.len {
                if q.last_in {
                    self.kill(i);
                    return Defrag::Drop(SkbDropReason::NOT_SPECIFIED);
                }
                q.len = end;
            }
        }
        if end == offset || end > 65535 {
            self.kill(i);
            return Defrag::Drop(SkbDropReason::NOT_SPECIFIED);
        }
        let q = &mut self.q[i];
        // inet_frag_queue_insert: a duplicate is dropped alone, an overlap kills the queue.
        for &(s, e) in &q.ranges {
            if s == offset && e == end {
                return Defrag::Drop(SkbDropReason::DUP_FRAG);
            }
            if offset < e && s < end {
                self.kill(i);
                return Defrag::Drop(SkbDropReason::NOT_SPECIFIED);
            }
        }
        let q = &mut self.q[i];
        let pos = q.ranges.partition_point(|&(s, _)| s < offset);
        q.ranges.insert(pos, (offset, end));
        if q.data.len() < end {
            q.data.resize(end, 0);
        }
        q.data[offset..end].copy_from_slice(&pkt[ihl..ihl + (end - offset)]);
        if offset == 0 {
            q.first_in = true;
            q.dev = dev;
            q.header.clear();
            q.header.extend_from_slice(&pkt[..ihl]);
        }
        let meat: usize = q.ranges.iter().map(|(s, e)| e - s).sum();
        if q.first_in && q.last_in && meat == q.len {
            Defrag::Complete(i)
        } else {
            Defrag::Queued
        }
    }
}
