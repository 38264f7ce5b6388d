//! pcapng writing: one Section Header Block, one Interface Description Block
//! per device name, one Enhanced Packet Block per frame, serialized by
//! `pcap-parser` (little-endian, nanosecond timestamps).

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use pcap_parser::{
    BOM_MAGIC, EPB_MAGIC, EnhancedPacketBlock, IDB_MAGIC, InterfaceDescriptionBlock, Linktype,
    OptionCode, PcapNGOption, SHB_MAGIC, SectionHeaderBlock, ToVec,
};

use crate::error::WriteError;
use crate::link::LinkType;

/// `if_tsresol` of every interface written: 10^-9 s.
const TSRESOL_NANOS: u8 = 9;

/// Writes a pcapng capture: frames tagged with the name of the interface
/// (the host device) they left by.
///
/// Each block is serialized into a fresh buffer by pcap-parser before it is
/// written, so writing allocates once per packet (reading does not).
/// Buffer the output (as [`PcapngWriter::create`] does) and call
/// [`flush`](PcapngWriter::flush) at the end to see write errors.
///
/// ```
/// # fn main() -> Result<(), fwdsim_pcap::WriteError> {
/// use fwdsim_pcap::{LinkType, PcapngWriter};
/// let mut w = PcapngWriter::new(Vec::new())?;
/// let eth1 = w.add_interface("eth1", LinkType::ETHERNET)?;
/// w.write_packet(eth1, 1_700_000_000_000_000_000, &[0u8; 60])?;
/// let bytes = w.into_inner();
/// # assert!(!bytes.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    /// Interfaces added, by id.
    ifaces: Vec<(String, LinkType)>,
}

impl PcapngWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the section header.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, WriteError> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|source| WriteError::Create {
            path: path.to_owned(),
            source,
        })?;
        Self::new(BufWriter::new(file))
    }
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the Section Header Block (`shb_userappl` "fwdsim") to `out`.
    pub fn new(mut out: W) -> Result<Self, WriteError> {
        let mut shb = SectionHeaderBlock {
            block_type: SHB_MAGIC,
            block_len1: 0,
            bom: BOM_MAGIC,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: vec![option(OptionCode::ShbUserAppl, b"fwdsim")],
            block_len2: 0,
        };
        write_block(&mut out, &mut shb)?;
        Ok(PcapngWriter {
            out,
            ifaces: Vec::new(),
        })
    }

    /// The id of interface `name`, writing its Interface Description Block
    /// (`if_name`, nanosecond `if_tsresol`, no snap length) the first time.
    /// Adding a name again returns the same id; with another link type it is
    /// an error.
    pub fn add_interface(&mut self, name: &str, link_type: LinkType) -> Result<u32, WriteError> {
        if let Some(id) = self.interface_id(name) {
            let existing = self.ifaces[id as usize].1;
            if existing != link_type {
                return Err(WriteError::InterfaceConflict {
                    name: name.to_owned(),
                    existing,
                    requested: link_type,
                });
            }
            return Ok(id);
        }
        if name.len() > usize::from(u16::MAX) {
            return Err(WriteError::NameTooLong { len: name.len() });
        }
        // Interface Description Blocks hold 16-bit link types.
        let Ok(link16) = u16::try_from(link_type.0) else {
            return Err(WriteError::LinkTypeOutOfRange { link_type });
        };
        let id = u32::try_from(self.ifaces.len()).map_err(|_| WriteError::TooManyInterfaces)?;
        let mut idb = InterfaceDescriptionBlock {
            block_type: IDB_MAGIC,
            block_len1: 0,
            linktype: Linktype(i32::from(link16)),
            reserved: 0,
            snaplen: 0,
            options: vec![
                option(OptionCode::IfName, name.as_bytes()),
                option(OptionCode::IfTsresol, &[TSRESOL_NANOS]),
            ],
            block_len2: 0,
            if_tsresol: TSRESOL_NANOS,
            if_tsoffset: 0,
        };
        write_block(&mut self.out, &mut idb)?;
        self.ifaces.push((name.to_owned(), link_type));
        Ok(id)
    }

    /// The id of an interface added before.
    pub fn interface_id(&self, name: &str) -> Option<u32> {
        self.ifaces
            .iter()
            .position(|(n, _)| n == name)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// Writes `frame` (whole: captured length = original length) as sent by
    /// interface `if_id` at `ts_nanos` nanoseconds since the Unix epoch.
    pub fn write_packet(
        &mut self,
        if_id: u32,
        ts_nanos: i128,
        frame: &[u8],
    ) -> Result<(), WriteError> {
        self.write_packet_with_direction(if_id, ts_nanos, frame, None)
    }

    /// As [`write_packet`](Self::write_packet), with the direction in the
    /// block's `epb_flags` option when `direction` is given (a capture of
    /// both directions, as dumpcap writes them).
    pub fn write_packet_with_direction(
        &mut self,
        if_id: u32,
        ts_nanos: i128,
        frame: &[u8],
        direction: Option<crate::Direction>,
    ) -> Result<(), WriteError> {
        self.write_packet_with_options(if_id, ts_nanos, frame, direction, None)
    }

    /// As [`write_packet_with_direction`](Self::write_packet_with_direction),
    /// with an `opt_comment` when `comment` is given (a packet comment, as
    /// Wireshark shows and edits them; at most 65,535 bytes).
    pub fn write_packet_with_options(
        &mut self,
        if_id: u32,
        ts_nanos: i128,
        frame: &[u8],
        direction: Option<crate::Direction>,
        comment: Option<&str>,
    ) -> Result<(), WriteError> {
        if if_id as usize >= self.ifaces.len() {
            return Err(WriteError::UnknownInterface {
                if_id,
                count: self.ifaces.len() as u32,
            });
        }
        let units =
            u64::try_from(ts_nanos).map_err(|_| WriteError::TimestampOutOfRange { ts_nanos })?;
        // The block length (32 bytes of header and trailer, padded data) is
        // a u32 too.
        let len = u32::try_from(frame.len())
            .ok()
            .filter(|l| *l <= u32::MAX - 64)
            .ok_or(WriteError::PacketTooLarge { len: frame.len() })?;
        let mut epb = EnhancedPacketBlock {
            block_type: EPB_MAGIC,
            block_len1: 0,
            if_id,
            ts_high: (units >> 32) as u32,
            ts_low: units as u32,
            caplen: len,
            origlen: len,
            data: frame,
            options: Vec::new(),
            block_len2: 0,
        };
        let flags = direction.map(|d| d.epb_flags().to_le_bytes());
        // opt_comment, then epb_flags (the serializer ends the list).
        if let Some(c) = comment {
            let c = &c.as_bytes()[..c.len().min(usize::from(u16::MAX))];
            epb.options.push(option(OptionCode(1), c));
        }
        if let Some(flags) = &flags {
            epb.options.push(option(OptionCode(2), flags));
        }
        write_block(&mut self.out, &mut epb)
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        Ok(self.out.flush()?)
    }

    /// The output, for inspection.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The output, without flushing it.
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn option<'a>(code: OptionCode, value: &'a [u8]) -> PcapNGOption<'a> {
    // Callers keep values within u16 (names are checked, the rest constant).
    PcapNGOption {
        code,
        len: value.len() as u16,
        value: Cow::Borrowed(value),
    }
}

/// Fixes the lengths of `block` and writes it.
fn write_block<W: Write, B: ToVec>(out: &mut W, block: &mut B) -> Result<(), WriteError> {
    let bytes = block.to_vec().map_err(|e| WriteError::Serialize {
        msg: format!("{e:?}"),
    })?;
    out.write_all(&bytes)?;
    Ok(())
}
