//! The errors of reading and writing captures. Each reading error says where
//! (byte offset) and how far reading got (packets read before it), on one
//! line.

use std::io;
use std::path::PathBuf;

use crate::link::LinkType;

/// Why a capture could not be read (further).
///
/// [`CaptureError::is_fatal`] tells whether reading goes on after it: a fatal
/// error ends the capture (the reader returns `None` next), everything
/// returned before it was read normally. `packets_read` counts the packet
/// records consumed before the error, including those reported as
/// [`UnsupportedLinkType`](CaptureError::UnsupportedLinkType) or
/// [`LinkHeaderTooShort`](CaptureError::LinkHeaderTooShort); a packet's
/// 1-based index is `packets_read + 1`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The capture file could not be opened. Fatal.
    #[error("cannot open capture {}: {source}", path.display())]
    Open {
        /// The path given.
        path: PathBuf,
        /// The error of `File::open`.
        #[source]
        source: io::Error,
    },
    /// Reading the underlying file failed. Fatal.
    #[error("read error at byte {offset} after {packets_read} packets: {source}")]
    Io {
        /// Byte offset of the record being read.
        offset: u64,
        /// Packet records read before it.
        packets_read: u64,
        /// The error of the reader.
        #[source]
        source: io::Error,
    },
    /// The file does not start like a pcap or pcapng capture. Fatal.
    #[error(
        "not a pcap or pcapng capture: {found} at byte 0; expected a pcap magic number \
         (a1b2c3d4, a1b23c4d or a1b2cd34, either byte order) or a pcapng section header (0a0d0d0a)"
    )]
    NotACapture {
        /// What the file starts with, e.g. `magic number 7f454c46` or `an empty file`.
        found: String,
    },
    /// The file ends inside a header or record. Fatal.
    #[error(
        "capture truncated at byte {offset} after {packets_read} packets: \
         the file ends inside the header or record that starts there"
    )]
    Truncated {
        /// Byte offset of the incomplete header or record.
        offset: u64,
        /// Packet records read before it.
        packets_read: u64,
    },
    /// A header or record is malformed. Fatal.
    #[error("corrupt capture at byte {offset} after {packets_read} packets: {msg}")]
    Corrupt {
        /// Byte offset of the malformed header or record.
        offset: u64,
        /// Packet records read before it.
        packets_read: u64,
        /// What is wrong.
        msg: String,
    },
    /// A packet's link type is not one fwdsim reads. Not fatal: the next call
    /// reads the next packet.
    #[error(
        "packet {} at byte {offset} has unsupported link type {link_type} ({packets_read} packets read before it); \
         fwdsim reads ETHERNET (1), LINUX_SLL (113), LINUX_SLL2 (276) and raw IP (101, 228, 229, 12, 14)",
        packets_read + 1
    )]
    UnsupportedLinkType {
        /// The link type of the packet's pcap file or pcapng interface.
        link_type: LinkType,
        /// Byte offset of the packet's record.
        offset: u64,
        /// Packet records read before it.
        packets_read: u64,
    },
    /// A packet is too short to hold the link-layer header of its link type
    /// (an SLL/SLL2 capture with a tiny snap length). Not fatal.
    #[error(
        "packet {} at byte {offset} is too short for its link type {link_type}: \
         {len} bytes captured, its header needs {need} ({packets_read} packets read before it)",
        packets_read + 1
    )]
    LinkHeaderTooShort {
        /// The link type of the packet.
        link_type: LinkType,
        /// Bytes captured.
        len: usize,
        /// Length of the link-layer header.
        need: usize,
        /// Byte offset of the packet's record.
        offset: u64,
        /// Packet records read before it.
        packets_read: u64,
    },
}

impl CaptureError {
    /// Whether reading stops after this error (everything but
    /// [`UnsupportedLinkType`](CaptureError::UnsupportedLinkType) and
    /// [`LinkHeaderTooShort`](CaptureError::LinkHeaderTooShort)).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            CaptureError::UnsupportedLinkType { .. } | CaptureError::LinkHeaderTooShort { .. }
        )
    }

    /// Byte offset the error is about (0 for `NotACapture`), `None` for `Open`.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::Open { .. } => None,
            CaptureError::NotACapture { .. } => Some(0),
            CaptureError::Io { offset, .. }
            | CaptureError::Truncated { offset, .. }
            | CaptureError::Corrupt { offset, .. }
            | CaptureError::UnsupportedLinkType { offset, .. }
            | CaptureError::LinkHeaderTooShort { offset, .. } => Some(*offset),
        }
    }

    /// Packet records read before the error (0 for `Open` and `NotACapture`).
    pub fn packets_read(&self) -> u64 {
        match self {
            CaptureError::Open { .. } | CaptureError::NotACapture { .. } => 0,
            CaptureError::Io { packets_read, .. }
            | CaptureError::Truncated { packets_read, .. }
            | CaptureError::Corrupt { packets_read, .. }
            | CaptureError::UnsupportedLinkType { packets_read, .. }
            | CaptureError::LinkHeaderTooShort { packets_read, .. } => *packets_read,
        }
    }
}

/// Why a pcapng could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The output file could not be created.
    #[error("cannot create capture {}: {source}", path.display())]
    Create {
        /// The path given.
        path: PathBuf,
        /// The error of `File::create`.
        #[source]
        source: io::Error,
    },
    /// Writing to the output failed.
    #[error("write error: {source}")]
    Io {
        /// The error of the writer.
        #[from]
        source: io::Error,
    },
    /// A packet names an interface that was not added.
    #[error("no interface {if_id} in this pcapng ({count} interfaces added)")]
    UnknownInterface {
        /// The interface id given.
        if_id: u32,
        /// Interfaces added so far (valid ids are `0..count`).
        count: u32,
    },
    /// An interface name was added again with another link type.
    #[error("interface {name} was added with link type {existing}, not {requested}")]
    InterfaceConflict {
        /// The interface name.
        name: String,
        /// Its link type.
        existing: LinkType,
        /// The link type asked for now.
        requested: LinkType,
    },
    /// The interface name does not fit a pcapng option (65535 bytes).
    #[error("interface name of {len} bytes is longer than a pcapng option allows (65535)")]
    NameTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A link type that does not fit the 16 bits of a pcapng Interface
    /// Description Block.
    #[error("link type {link_type} does not fit a pcapng interface description (at most 65535)")]
    LinkTypeOutOfRange {
        /// The link type given.
        link_type: LinkType,
    },
    /// More interfaces than pcapng interface ids (2^32).
    #[error("too many interfaces for one pcapng section (at most 2^32)")]
    TooManyInterfaces,
    /// A timestamp before 1970 or after the 64-bit nanosecond range.
    #[error(
        "timestamp {ts_nanos} ns is outside what a pcapng nanosecond timestamp holds (0 to 2^64-1 ns since 1970)"
    )]
    TimestampOutOfRange {
        /// The timestamp given, in nanoseconds since the Unix epoch.
        ts_nanos: i128,
    },
    /// A packet too large for a pcapng block.
    #[error("packet of {len} bytes is too large for a pcapng block")]
    PacketTooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The serializer failed (should not happen when writing to memory).
    #[error("cannot serialize pcapng block: {msg}")]
    Serialize {
        /// The serializer's message.
        msg: String,
    },
}
