//! The frames a host sends while handling one packet (forwarded packets,
//! fragments, ICMP errors, replies, ARP requests), kept in one reusable
//! buffer so the per-packet path does not allocate once warmed up.

use std::ops::Range;

use crate::core::dst::Rtable;
use crate::netns::IfIndex;

/// Why a frame was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// The packet (or a fragment of it) forwarded.
    Forward,
    /// An ICMP error or reply, or another locally generated packet.
    Local,
    /// An ARP request for an unresolved next hop.
    Arp,
}

/// One frame sent on a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxFrame {
    /// The device it leaves on.
    pub dev: IfIndex,
    /// Why.
    pub kind: TxKind,
    /// Its bytes in `TxQueue::bytes`.
    pub range: Range<usize>,
    /// When it was sent (jiffies): the packet's time, or a timer's.
    pub at: u64,
    /// The number (`Netns::rx_seq`) of the packet it belongs to or was
    /// caused by: the packet being handled, or, for a packet that waited for
    /// its neighbour, the one that queued it.
    pub seq: u64,
    /// The route of a frame sent on `lo`: `loopback_xmit` keeps the skb's
    /// dst, so the frame is received with it and not routed again.
    pub dst: Option<Rtable>,
}

/// Frames sent for the current packet.
#[derive(Clone, Debug, Default)]
pub struct TxQueue {
    /// The frames, in the order sent.
    pub frames: Vec<TxFrame>,
    /// Their bytes, back to back.
    pub bytes: Vec<u8>,
    /// The packet number frames pushed now are stamped with (`TxFrame::seq`).
    pub seq: u64,
}

impl TxQueue {
    /// Forgets the frames, keeping the buffers.
    pub fn clear(&mut self) {
        self.frames.clear();
        self.bytes.clear();
    }

    /// Appends a frame built by `f` into the shared byte buffer, sent at
    /// `at` (jiffies).
    pub fn push(&mut self, dev: IfIndex, kind: TxKind, at: u64, f: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        f(&mut self.bytes);
        self.frames.push(TxFrame {
            dev,
            kind,
            range: start..self.bytes.len(),
            at,
            seq: self.seq,
            dst: None,
        });
    }

    /// The bytes of a frame.
    pub fn frame(&self, f: &TxFrame) -> &[u8] {
        &self.bytes[f.range.clone()]
    }
}
