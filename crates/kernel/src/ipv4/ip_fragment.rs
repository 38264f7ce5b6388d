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
    /// `rid`: the peer's fragment count when this queue last took one.
    pub rid: u32,
    /// The truesize of the fragments it holds (`frag_mem_limit` share).
    pub mem: usize,
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
            rid: 0,
            mem: 0,
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
    /// Fragments dropped by the last [`FragQueues::queue`] because their
    /// queue was too far behind its peer (`ip_frag_reinit`).
    pub too_far: usize,
    /// `frag_mem_limit`: the truesize of every queued fragment.
    pub mem: usize,
}

/// How many datagrams are reassembled at once, at most (the memory
/// threshold binds first: 8192 queues of one small fragment hold over
/// 6 MB).
pub const MAX_QUEUES: usize = 8192;

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
        self.mem = self.mem.saturating_sub(q.mem);
        q.mem = 0;
        q.live = false;
        q.ranges.clear();
        q.header.clear();
        q.data.clear();
    }

    /// Kernel: `ip_defrag` → `ip_frag_queue` for the fragment `pkt` (IP
    /// header and payload, already trimmed to its total length). `rid` is
    /// the source peer's fragment count with this one and
    /// `ipfrag_max_dist`, when that is not 0: a queue holding fragments
    /// that has seen more than `max_dist` of the peer's fragments go by
    /// since its last one is emptied first (`ip_frag_too_far`,
    /// `ip_frag_reinit`), its fragments counted in `too_far`.
    pub fn queue(
        &mut self,
        pkt: &[u8],
        dev: crate::netns::IfIndex,
        now: u64,
        rid: Option<(u32, u32)>,
        high_thresh: usize,
    ) -> Defrag {
        self.too_far = 0;
        // inet_frag_find: over ipfrag_high_thresh no queue is found or
        // made, and ip_defrag frees the fragment.
        if high_thresh == 0 || self.mem > high_thresh {
            return Defrag::Drop(SkbDropReason::NOT_SPECIFIED);
        }
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
                    None => return Defrag::Drop(SkbDropReason::NOT_SPECIFIED),
                };
                let q = &mut self.q[i];
                q.live = true;
                q.key = key;
                q.start = now;
                q.len = 0;
                q.last_in = false;
                q.first_in = false;
                q.rid = 0;
                i
            }
        };
        if let Some((end, max_dist)) = rid {
            let q = &mut self.q[i];
            let start = q.rid;
            q.rid = end;
            if !q.ranges.is_empty() && end.wrapping_sub(start) > max_dist {
                // ip_frag_reinit: the queued fragments go (FRAG_TOO_FAR),
                // the queue starts over with its timer re-armed.
                self.too_far = q.ranges.len();
                self.mem = self.mem.saturating_sub(q.mem);
                q.mem = 0;
                q.ranges.clear();
                q.header.clear();
                q.data.clear();
                q.len = 0;
                q.last_in = false;
                q.first_in = false;
                q.start = now;
            }
        }
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
        if end == offset {
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
        // The fragment's skb as a driver allocates it (Ethernet header on).
        let truesize = crate::core::skbuff::skb_truesize(pkt.len() + 14) as usize;
        q.mem += truesize;
        self.mem += truesize;
        let q = &mut self.q[i];
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
