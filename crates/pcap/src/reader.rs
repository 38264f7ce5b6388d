//! Streaming capture reading: pcap or pcapng in, one normalised
//! [`Packet`] at a time out.
//!
//! The formats are parsed by `pcap-parser`'s streaming readers
//! (`LegacyPcapReader`, `PcapNGReader`) over one circular buffer; this
//! module tracks byte offsets, pcapng interfaces and timestamps, turns the
//! parser's outcomes into [`CaptureError`]s, and normalises each packet
//! into one reused frame buffer ([`crate::link`]).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use circular::Buffer;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{
    Block, LegacyPcapReader, PcapBlockOwned, PcapError, PcapHeader, PcapNGReader,
    parse_pcap_header, parse_sectionheaderblock,
};

use crate::error::CaptureError;
use crate::link::{
    LinkKind, LinkType, PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST,
    PACKET_OUTGOING, normalize,
};

/// The read buffer's first capacity; it doubles when a record does not fit.
const INITIAL_CAPACITY: usize = 128 * 1024;

/// The largest record (pcap record or pcapng block) read, and so the most
/// memory the read buffer takes: a longer one is reported as
/// [`CaptureError::Corrupt`]. libpcap caps snap lengths at 256 KiB
/// (`MAXIMUM_SNAPLEN`); this leaves room for pcapng options.
pub const MAX_RECORD_LEN: usize = 16 << 20;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// One captured packet, normalised to an Ethernet frame (see [`crate::link`]
/// for what is synthesized for SLL, SLL2 and raw IP captures), with what the
/// capture says about where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// 1-based position among the capture's packet records (packets reported
    /// as errors count too, so indices match other tools' frame numbers).
    pub index: u64,
    /// Capture time in nanoseconds since the Unix epoch (0 for pcapng Simple
    /// Packet Blocks, which have none).
    pub ts_nanos: i128,
    /// The Ethernet frame: 14-byte header and payload (shorter when an
    /// Ethernet capture's record is).
    pub frame: &'a [u8],
    /// Length of the packet on the wire, as the capture records it (the
    /// original link-layer header included).
    pub orig_len: u32,
    /// The capture's link type, by what was done to make `frame`.
    pub link: LinkKind,
    /// Name of the pcapng interface (`if_name`) the packet was captured on.
    pub iif_name: Option<&'a str>,
    /// Interface index of a Linux cooked v2 (SLL2) record.
    pub iif_index: Option<u32>,
    /// Packet type of a Linux cooked (SLL/SLL2) record, `PACKET_HOST`...
    /// (include/uapi/linux/if_packet.h; constants in this crate).
    pub pkt_type: Option<u16>,
    /// Which way the frame went, when the capture says: the pcapng
    /// Enhanced Packet Block's `epb_flags` direction bits, else the SLL/SLL2
    /// packet type (`PACKET_OUTGOING` is outbound, `PACKET_HOST`,
    /// `PACKET_BROADCAST`, `PACKET_MULTICAST` and `PACKET_OTHERHOST` are
    /// inbound). `None` for pcap Ethernet and raw IP records and pcapng
    /// blocks without the flags.
    pub direction: Option<Direction>,
    /// Byte offset of the packet's record in the capture.
    pub offset: u64,
    /// The pcapng Enhanced Packet Block's first `opt_comment`, when it has
    /// one that is UTF-8.
    pub comment: Option<&'a str>,
}

/// Which way a captured frame went through its device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received by the device.
    Inbound,
    /// Sent by the host through the device.
    Outbound,
}

impl Direction {
    /// The direction of pcapng `epb_flags` (bits 0-1: 01 inbound, 10
    /// outbound, 00 not available; 11 is invalid and read as not
    /// available).
    pub fn from_epb_flags(flags: u32) -> Option<Direction> {
        match flags & 0b11 {
            0b01 => Some(Direction::Inbound),
            0b10 => Some(Direction::Outbound),
            _ => None,
        }
    }

    /// The direction of an SLL/SLL2 packet type: `PACKET_OUTGOING` is
    /// outbound, the four received types inbound, others (`PACKET_LOOPBACK`,
    /// `PACKET_USER`, `PACKET_KERNEL`) unknown.
    pub fn from_pkt_type(pkt_type: u16) -> Option<Direction> {
        match pkt_type {
            PACKET_OUTGOING => Some(Direction::Outbound),
            PACKET_HOST | PACKET_BROADCAST | PACKET_MULTICAST | PACKET_OTHERHOST => {
                Some(Direction::Inbound)
            }
            _ => None,
        }
    }

    /// The `epb_flags` value of this direction (no reception type, no FCS
    /// length, no link-layer errors).
    pub fn epb_flags(self) -> u32 {
        match self {
            Direction::Inbound => 0b01,
            Direction::Outbound => 0b10,
        }
    }
}

impl Packet<'_> {
    /// Whether `frame`'s destination MAC is [`PLACEHOLDER_MAC`](crate::PLACEHOLDER_MAC)
    /// standing for the receiving device's own address, which the capture
    /// does not record (SLL/SLL2 other than broadcast, multicast and
    /// otherhost; raw IP). The caller writes the ingress device's address
    /// there before `eth_type_trans`.
    pub fn dst_is_placeholder(&self) -> bool {
        self.link != LinkKind::Ethernet
            && !matches!(
                self.pkt_type,
                Some(PACKET_BROADCAST | PACKET_MULTICAST | PACKET_OTHERHOST)
            )
    }
}

/// The container format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap format, one link type for the file.
    Pcap {
        /// The file's link type.
        link_type: LinkType,
        /// Whether timestamps have nanosecond (else microsecond) resolution.
        nanosecond: bool,
    },
    /// pcapng: link type, name and timestamp resolution per interface.
    Pcapng,
}

/// Reads a pcap or pcapng capture packet by packet, in constant memory
/// whatever the capture's size: one read buffer (bounded by
/// [`MAX_RECORD_LEN`]) and one frame buffer, both reused, so reading does not
/// allocate per packet once warmed up (pcap-parser allocates a list for a
/// pcapng Enhanced Packet Block that carries options).
///
/// ```no_run
/// # fn main() -> Result<(), fwdsim_pcap::CaptureError> {
/// let mut capture = fwdsim_pcap::CaptureReader::open("in.pcapng")?;
/// while let Some(packet) = capture.next_packet() {
///     match packet {
///         Ok(p) => println!("{} {} bytes from {:?}", p.index, p.frame.len(), p.iif_name),
///         Err(e) if !e.is_fatal() => eprintln!("skipped: {e}"),
///         Err(e) => eprintln!("{e}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct CaptureReader<R: Read> {
    inner: Inner<R>,
    state: State,
    /// Capacity of the read buffer.
    capacity: usize,
    /// The I/O error behind pcap-parser's `ReadError`.
    io_error: Arc<Mutex<Option<io::Error>>>,
    /// Set after the end or a fatal error.
    done: bool,
}

/// What the reader keeps besides the parser.
struct State {
    format: CaptureFormat,
    /// Interfaces of the current pcapng section.
    ifaces: Vec<Iface>,
    /// Byte order of the current pcapng section (for messages).
    big_endian: bool,
    /// The reused frame buffer.
    frame: Vec<u8>,
    /// The current packet's comment (reused buffer).
    comment: String,
    /// Whether the current packet has a comment.
    has_comment: bool,
    packets_read: u64,
}

/// A pcapng interface (Interface Description Block).
struct Iface {
    link_type: LinkType,
    name: Option<String>,
    /// Timestamp units per second (`if_tsresol`).
    units_per_sec: u64,
    /// Seconds added to timestamps (`if_tsoffset`).
    offset_secs: i64,
    snaplen: u32,
}

/// A packet found, before borrowing the frame.
struct Meta {
    index: u64,
    ts_nanos: i128,
    orig_len: u32,
    link: LinkKind,
    iface: Option<usize>,
    iif_index: Option<u32>,
    pkt_type: Option<u16>,
    /// The `epb_flags` direction, before the SLL packet type is consulted.
    epb_direction: Option<Direction>,
    offset: u64,
}

/// The outcome of one block.
enum Step {
    Packet(Meta),
    Skip,
    Fail(CaptureError),
}

/// The outcome of one parser call, owning nothing of the buffer.
enum Action {
    Consume(usize, Step),
    Eof,
    UnexpectedEof,
    Refill,
    Grow,
    ReadError,
    Malformed,
}

enum Inner<R: Read> {
    Pcap(LegacyPcapReader<SlotReader<R>>),
    Ng(PcapNGReader<SlotReader<R>>),
}

impl<R: Read> Inner<R> {
    fn it(&mut self) -> &mut dyn PcapReaderIterator {
        match self {
            Inner::Pcap(r) => r,
            Inner::Ng(r) => r,
        }
    }

    fn it_ref(&self) -> &dyn PcapReaderIterator {
        match self {
            Inner::Pcap(r) => r,
            Inner::Ng(r) => r,
        }
    }
}

/// Keeps the `io::Error` that pcap-parser would reduce to `ReadError`, and
/// retries interrupted reads. After an error it reports end of file, so that
/// the records already buffered are still parsed and returned; the reader
/// reports the kept error where the data runs out.
struct SlotReader<R> {
    inner: R,
    slot: Arc<Mutex<Option<io::Error>>>,
    failed: bool,
}

impl<R: Read> Read for SlotReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.failed {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failed = true;
                    if let Ok(mut slot) = self.slot.lock() {
                        slot.get_or_insert(e);
                    }
                }
                ok => return ok,
            }
        }
        Ok(0)
    }
}

/// What the start of a file is.
enum Detect {
    Pcap(PcapHeader),
    Pcapng,
    NeedMore,
    Corrupt(&'static str),
    NotACapture(String),
}

const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

fn detect(data: &[u8], eof: bool) -> Detect {
    let Some(magic) = data.first_chunk::<4>() else {
        return match (eof, data.len()) {
            (false, _) => Detect::NeedMore,
            (true, 0) => Detect::NotACapture("an empty file".into()),
            (true, n) => Detect::NotACapture(format!("a file of {n} bytes")),
        };
    };
    if *magic == PCAPNG_MAGIC {
        return match parse_sectionheaderblock(data) {
            Ok(_) => Detect::Pcapng,
            Err(nom_err) if nom_err.is_incomplete() => Detect::NeedMore,
            Err(_) => Detect::Corrupt("invalid pcapng section header block"),
        };
    }
    match parse_pcap_header(data) {
        Ok((_, header)) => Detect::Pcap(header),
        Err(nom_err) if nom_err.is_incomplete() => Detect::NeedMore,
        Err(_) => Detect::NotACapture(format!("magic number {}", hex(magic))),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl CaptureReader<File> {
    /// Opens a capture file and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::new(file)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the header of the capture `reader` yields (pcap or pcapng,
    /// told apart by the magic number). `reader` need not be buffered.
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        let io_error = Arc::new(Mutex::new(None));
        let mut reader = SlotReader {
            inner: reader,
            slot: Arc::clone(&io_error),
            failed: false,
        };
        let mut buffer = Buffer::with_capacity(INITIAL_CAPACITY);
        let mut eof = false;
        let io_err = |slot: &Arc<Mutex<Option<io::Error>>>| CaptureError::Io {
            offset: 0,
            packets_read: 0,
            source: take_io_error(slot),
        };
        let corrupt = |msg: &str| CaptureError::Corrupt {
            offset: 0,
            packets_read: 0,
            msg: msg.to_owned(),
        };
        // The pcap header, or None for pcapng.
        let pcap_header = loop {
            match detect(buffer.data(), eof) {
                Detect::Pcap(header) => break Some(header),
                Detect::Pcapng => break None,
                _ if eof && has_io_error(&io_error) => return Err(io_err(&io_error)),
                Detect::NotACapture(found) => return Err(CaptureError::NotACapture { found }),
                Detect::Corrupt(msg) => return Err(corrupt(msg)),
                Detect::NeedMore if eof => {
                    return Err(CaptureError::Truncated {
                        offset: 0,
                        packets_read: 0,
                    });
                }
                Detect::NeedMore if buffer.available_space() == 0 => {
                    return Err(corrupt("pcapng section header block longer than 128 KiB"));
                }
                Detect::NeedMore => match reader.read(buffer.space()) {
                    Ok(0) => eof = true,
                    Ok(n) => {
                        buffer.fill(n);
                    }
                    Err(_) => return Err(io_err(&io_error)),
                },
            }
        };
        let from_buffer_err = |e: PcapError<&[u8]>| match e {
            PcapError::ReadError => io_err(&io_error),
            _ => corrupt("cannot read the capture header"),
        };
        let (inner, format) = match pcap_header {
            None => {
                let r = PcapNGReader::from_buffer(buffer, reader).map_err(from_buffer_err)?;
                (Inner::Ng(r), CaptureFormat::Pcapng)
            }
            Some(header) => {
                // The upper 16 bits hold FCS information (libpcap LT_LINKTYPE).
                let link_type = LinkType((header.network.0 as u32) & 0xffff);
                let nanosecond = header.is_nanosecond_precision();
                let r = LegacyPcapReader::from_buffer(buffer, reader).map_err(from_buffer_err)?;
                (
                    Inner::Pcap(r),
                    CaptureFormat::Pcap {
                        link_type,
                        nanosecond,
                    },
                )
            }
        };
        Ok(CaptureReader {
            inner,
            state: State {
                format,
                ifaces: Vec::new(),
                big_endian: false,
                frame: Vec::new(),
                comment: String::new(),
                has_comment: false,
                packets_read: 0,
            },
            capacity: INITIAL_CAPACITY,
            io_error,
            done: false,
        })
    }

    /// The names of the interfaces of the current pcapng section read so
    /// far (Interface Description Blocks with an `if_name`), in order;
    /// none for pcap.
    pub fn interface_names(&self) -> impl Iterator<Item = &str> {
        self.state.ifaces.iter().filter_map(|i| i.name.as_deref())
    }

    /// The capture's container format (and, for pcap, its link type).
    pub fn format(&self) -> CaptureFormat {
        self.state.format
    }

    /// Packet records read so far, returned or reported as errors.
    pub fn packets_read(&self) -> u64 {
        self.state.packets_read
    }

    /// Byte offset of the next record to read.
    pub fn offset(&self) -> u64 {
        self.inner.it_ref().consumed() as u64
    }

    /// The next packet, an error, or `None` at the end of the capture or
    /// after a fatal error ([`CaptureError::is_fatal`]). After a non-fatal
    /// error, the next call reads on.
    pub fn next_packet(&mut self) -> Option<Result<Packet<'_>, CaptureError>> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some(meta)) => Some(Ok(self.packet(meta))),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = e.is_fatal();
                Some(Err(e))
            }
        }
    }

    fn packet(&self, m: Meta) -> Packet<'_> {
        Packet {
            index: m.index,
            ts_nanos: m.ts_nanos,
            frame: &self.state.frame,
            orig_len: m.orig_len,
            link: m.link,
            iif_name: m
                .iface
                .and_then(|i| self.state.ifaces.get(i))
                .and_then(|f| f.name.as_deref()),
            iif_index: m.iif_index,
            pkt_type: m.pkt_type,
            direction: m
                .epb_direction
                .or_else(|| m.pkt_type.and_then(Direction::from_pkt_type)),
            offset: m.offset,
            comment: self
                .state
                .has_comment
                .then_some(self.state.comment.as_str()),
        }
    }

    /// Parses blocks until a packet, the end or an error.
    fn advance(&mut self) -> Result<Option<Meta>, CaptureError> {
        loop {
            let it = self.inner.it();
            let offset = it.consumed() as u64;
            let action = match it.next() {
                Ok((len, block)) => Action::Consume(len, self.state.on_block(block, offset)),
                Err(PcapError::Eof) => Action::Eof,
                Err(PcapError::UnexpectedEof) => Action::UnexpectedEof,
                Err(PcapError::Incomplete(_)) => Action::Refill,
                Err(PcapError::BufferTooSmall) => Action::Grow,
                Err(PcapError::ReadError) => Action::ReadError,
                Err(_) => Action::Malformed,
            };
            let packets_read = self.state.packets_read;
            match action {
                Action::Consume(len, step) => {
                    self.inner.it().consume(len);
                    match step {
                        Step::Packet(meta) => return Ok(Some(meta)),
                        Step::Skip => {}
                        Step::Fail(e) => return Err(e),
                    }
                }
                Action::Eof | Action::UnexpectedEof if has_io_error(&self.io_error) => {
                    return Err(self.io_error(offset));
                }
                Action::Eof => return Ok(None),
                Action::UnexpectedEof if self.inner.it_ref().data().is_empty() => return Ok(None),
                Action::UnexpectedEof => {
                    return Err(CaptureError::Truncated {
                        offset,
                        packets_read,
                    });
                }
                Action::ReadError => return Err(self.io_error(offset)),
                Action::Malformed => {
                    let msg = self.describe_malformed();
                    return Err(CaptureError::Corrupt {
                        offset,
                        packets_read,
                        msg,
                    });
                }
                Action::Refill => {
                    let before = self.inner.it_ref().data().len();
                    self.refill(offset)?;
                    let it = self.inner.it_ref();
                    if it.data().len() == before && !it.reader_exhausted() {
                        // No room left to read into: the record is larger
                        // than the buffer.
                        self.grow(offset)?;
                    }
                }
                Action::Grow => self.grow(offset)?,
            }
        }
    }

    fn refill(&mut self, offset: u64) -> Result<(), CaptureError> {
        match self.inner.it().refill() {
            Ok(()) => Ok(()),
            Err(_) => Err(self.io_error(offset)),
        }
    }

    /// Doubles the read buffer, up to [`MAX_RECORD_LEN`], and refills it.
    fn grow(&mut self, offset: u64) -> Result<(), CaptureError> {
        if self.capacity >= MAX_RECORD_LEN {
            return Err(CaptureError::Corrupt {
                offset,
                packets_read: self.state.packets_read,
                msg: format!("record longer than {} MiB", MAX_RECORD_LEN >> 20),
            });
        }
        self.capacity = (self.capacity * 2).min(MAX_RECORD_LEN);
        self.inner.it().grow(self.capacity);
        self.refill(offset)
    }

    fn io_error(&self, offset: u64) -> CaptureError {
        CaptureError::Io {
            offset,
            packets_read: self.state.packets_read,
            source: take_io_error(&self.io_error),
        }
    }

    /// What a record the parser rejected looks like.
    fn describe_malformed(&self) -> String {
        let data = self.inner.it_ref().data();
        match (&self.inner, data.first_chunk::<8>()) {
            (Inner::Ng(_), Some(h)) => {
                let (t, l) = ([h[0], h[1], h[2], h[3]], [h[4], h[5], h[6], h[7]]);
                let (t, l) = if self.state.big_endian {
                    (u32::from_be_bytes(t), u32::from_be_bytes(l))
                } else {
                    (u32::from_le_bytes(t), u32::from_le_bytes(l))
                };
                format!("malformed pcapng block (type 0x{t:08x}, length {l})")
            }
            (Inner::Ng(_), None) => "malformed pcapng block".into(),
            (Inner::Pcap(_), _) => "malformed pcap record".into(),
        }
    }
}

/// Timestamp units per second of an `if_tsresol` value (pcapng, Interface
/// Description Block options): 10^n, or 2^n when the top bit is set; `None`
/// when that does not fit 64 bits. Not pcap-parser's
/// `InterfaceDescriptionBlock::ts_resolution`, which rejects every binary
/// resolution (it compares the unmasked byte with 63).
fn ts_units_per_sec(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n)
    }
}

/// `epb_flags` (option code 2 of an Enhanced Packet Block, 4 bytes in the
/// section's byte order): its direction, or `None` when the block has no
/// such option or it says "not available".
fn epb_direction(options: &[pcap_parser::PcapNGOption<'_>], big_endian: bool) -> Option<Direction> {
    const EPB_FLAGS: u16 = 2;
    let o = options.iter().find(|o| o.code.0 == EPB_FLAGS)?;
    let b: [u8; 4] = o.as_bytes().ok()?.try_into().ok()?;
    let flags = if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    };
    Direction::from_epb_flags(flags)
}

fn has_io_error(slot: &Arc<Mutex<Option<io::Error>>>) -> bool {
    slot.lock().map(|s| s.is_some()).unwrap_or(true)
}

fn take_io_error(slot: &Arc<Mutex<Option<io::Error>>>) -> io::Error {
    slot.lock()
        .ok()
        .and_then(|mut s| s.take())
        .unwrap_or_else(|| io::Error::other("read failed"))
}

impl State {
    fn corrupt(&self, offset: u64, msg: String) -> Step {
        Step::Fail(CaptureError::Corrupt {
            offset,
            packets_read: self.packets_read,
            msg,
        })
    }

    fn on_block(&mut self, block: PcapBlockOwned<'_>, offset: u64) -> Step {
        self.has_comment = false;
        match block {
            PcapBlockOwned::LegacyHeader(_) => Step::Skip,
            PcapBlockOwned::Legacy(b) => {
                let CaptureFormat::Pcap {
                    link_type,
                    nanosecond,
                } = self.format
                else {
                    return Step::Skip;
                };
                let frac_nanos = if nanosecond { 1 } else { 1000 };
                let ts_nanos =
                    i128::from(b.ts_sec) * NANOS_PER_SEC + i128::from(b.ts_usec) * frac_nanos;
                self.packet(link_type, None, ts_nanos, b.origlen, b.data, offset, None)
            }
            PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                self.ifaces.clear();
                self.big_endian = shb.big_endian();
                Step::Skip
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                let Some(units_per_sec) = ts_units_per_sec(idb.if_tsresol) else {
                    return self.corrupt(
                        offset,
                        format!(
                            "interface {} has an invalid if_tsresol 0x{:02x}",
                            self.ifaces.len(),
                            idb.if_tsresol
                        ),
                    );
                };
                let name = idb
                    .if_name()
                    .and_then(Result::ok)
                    .map(|n| n.trim_end_matches('\0').to_owned());
                self.ifaces.push(Iface {
                    link_type: LinkType(u32::from(idb.linktype.0 as u16)),
                    name,
                    units_per_sec,
                    offset_secs: idb.ts_offset(),
                    snaplen: idb.snaplen,
                });
                Step::Skip
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(iface) = self.ifaces.get(epb.if_id as usize) else {
                    return self.corrupt(offset, self.unknown_iface(epb.if_id));
                };
                let Some(data) = epb.data.get(..epb.caplen as usize) else {
                    return self.corrupt(
                        offset,
                        format!(
                            "enhanced packet block caplen {} exceeds its data",
                            epb.caplen
                        ),
                    );
                };
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts_nanos = i128::from(iface.offset_secs) * NANOS_PER_SEC
                    + i128::from(units) * NANOS_PER_SEC / i128::from(iface.units_per_sec);
                let link_type = iface.link_type;
                let direction = epb_direction(&epb.options, self.big_endian);
                if let Some(c) = epb
                    .options
                    .iter()
                    .find(|o| o.code.0 == 1)
                    .and_then(|o| o.as_bytes().ok())
                    .and_then(|b| std::str::from_utf8(b).ok())
                {
                    self.comment.clear();
                    self.comment.push_str(c.trim_end_matches('\0'));
                    self.has_comment = true;
                }
                self.packet(
                    link_type,
                    Some(epb.if_id as usize),
                    ts_nanos,
                    epb.origlen,
                    data,
                    offset,
                    direction,
                )
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let Some(iface) = self.ifaces.first() else {
                    return self.corrupt(offset, self.unknown_iface(0));
                };
                let mut caplen = (spb.origlen as usize).min(spb.data.len());
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                let link_type = iface.link_type;
                self.packet(
                    link_type,
                    Some(0),
                    0,
                    spb.origlen,
                    &spb.data[..caplen],
                    offset,
                    None,
                )
            }
            // Other blocks (name resolution, statistics, obsolete Packet
            // Blocks, custom, unknown) carry no packet fwdsim reads.
            PcapBlockOwned::NG(_) => Step::Skip,
        }
    }

    fn unknown_iface(&self, if_id: u32) -> String {
        format!(
            "packet block names interface {if_id}; the section has {} interface description blocks",
            self.ifaces.len()
        )
    }

    /// Counts a packet record and normalises it into the frame buffer.
    #[allow(clippy::too_many_arguments)]
    fn packet(
        &mut self,
        link_type: LinkType,
        iface: Option<usize>,
        ts_nanos: i128,
        orig_len: u32,
        data: &[u8],
        offset: u64,
        epb_direction: Option<Direction>,
    ) -> Step {
        let packets_read = self.packets_read;
        self.packets_read += 1;
        let Some(kind) = link_type.kind() else {
            return Step::Fail(CaptureError::UnsupportedLinkType {
                link_type,
                offset,
                packets_read,
            });
        };
        match normalize(kind, link_type, data, &mut self.frame) {
            Ok(meta) => Step::Packet(Meta {
                index: self.packets_read,
                ts_nanos,
                orig_len,
                link: meta.kind,
                iface,
                iif_index: meta.iif_index,
                pkt_type: meta.pkt_type,
                epb_direction,
                offset,
            }),
            Err(short) => Step::Fail(CaptureError::LinkHeaderTooShort {
                link_type,
                len: data.len(),
                need: short.need,
                offset,
                packets_read,
            }),
        }
    }
}
