//! Capture I/O for fwdsim: reads pcap and pcapng captures packet by packet,
//! normalised to Ethernet frames with their ingress hints, and writes pcapng.
//!
//! * [`CaptureReader`] reads pcap (microsecond or nanosecond, either byte
//!   order) and pcapng (any number of sections and interfaces) in constant
//!   memory. Each [`Packet`] is an Ethernet frame, so the model always starts
//!   at `eth_type_trans` (net/ethernet/eth.c): Linux cooked (SLL, SLL2) and
//!   raw IP captures get a synthesized Ethernet header ([`link`] says what
//!   and why), and it carries the ingress hints of `fwdsim replay`
//!   (shared/interfaces.md §3): the pcapng interface name, the SLL2 interface
//!   index, the SLL packet type, the direction (pcapng `epb_flags`, SLL
//!   `PACKET_OUTGOING`), and the record's byte offset.
//! * A capture that ends early or is malformed yields its packets up to
//!   there, then a [`CaptureError`] with the byte offset and the packets read
//!   before it; a packet of a link type fwdsim does not read is an error for
//!   that packet only.
//! * [`PcapngWriter`] writes the frames that leave the host, one pcapng
//!   interface per device name.
//!
//! The formats themselves are parsed and serialized by the `pcap-parser`
//! crate. This crate knows nothing of the model.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use fwdsim_pcap::{CaptureReader, LinkKind, LinkType, PcapngWriter};
//!
//! let mut w = PcapngWriter::new(Vec::new())?;
//! let eth0 = w.add_interface("eth0", LinkType::ETHERNET)?;
//! w.write_packet(eth0, 1_500_000_000_123_456_789, &[0xff; 60])?;
//!
//! let bytes = w.into_inner();
//! let mut r = CaptureReader::new(&bytes[..])?;
//! let p = r.next_packet().unwrap()?;
//! assert_eq!((p.index, p.iif_name, p.link), (1, Some("eth0"), LinkKind::Ethernet));
//! assert_eq!(p.ts_nanos, 1_500_000_000_123_456_789);
//! assert!(r.next_packet().is_none());
//! # Ok(()) }
//! ```

mod error;
pub mod link;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use error::{CaptureError, WriteError};
pub use link::{
    LinkKind, LinkType, OTHERHOST_MAC, PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST,
    PACKET_OTHERHOST, PACKET_OUTGOING, PLACEHOLDER_MAC,
};
pub use reader::{CaptureFormat, CaptureReader, Direction, MAX_RECORD_LEN, Packet};
pub use writer::PcapngWriter;
