//! Tests of reading and writing, on captures built in memory: pcap records
//! and pcapng blocks serialized by pcap-parser or by [`PcapngWriter`], and
//! hand-made bytes where a capture must be broken.

mod corpus;
mod direction;
mod display;
mod props;
mod reading;
mod writing;

use std::borrow::Cow;

use pcap_parser::{
    IDB_MAGIC, InterfaceDescriptionBlock, LegacyPcapBlock, Linktype, OptionCode, PcapHeader,
    PcapNGOption, SPB_MAGIC, SimplePacketBlock, ToVec,
};

use crate::{CaptureError, CaptureReader, LinkType, Packet, PcapngWriter};

/// One packet as a test sees it, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owned {
    pub index: u64,
    pub ts_nanos: i128,
    pub frame: Vec<u8>,
    pub orig_len: u32,
    pub iif_name: Option<String>,
    pub iif_index: Option<u32>,
    pub pkt_type: Option<u16>,
    pub direction: Option<crate::Direction>,
    pub offset: u64,
}

impl From<Packet<'_>> for Owned {
    fn from(p: Packet<'_>) -> Self {
        Owned {
            index: p.index,
            ts_nanos: p.ts_nanos,
            frame: p.frame.to_vec(),
            orig_len: p.orig_len,
            iif_name: p.iif_name.map(str::to_owned),
            iif_index: p.iif_index,
            pkt_type: p.pkt_type,
            direction: p.direction,
            offset: p.offset,
        }
    }
}

/// Reads a whole capture: the packets, then every error in order. Panics if
/// reading does not end (more calls than bytes plus one per error), which
/// would be a loop.
pub(crate) fn read_all(bytes: &[u8]) -> (Vec<Owned>, Vec<CaptureError>) {
    let mut r = match CaptureReader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let (mut pkts, mut errs) = (Vec::new(), Vec::new());
    let mut calls = 0usize;
    while let Some(p) = r.next_packet() {
        calls += 1;
        assert!(calls <= bytes.len() + 1, "reader does not end");
        match p {
            Ok(p) => pkts.push(Owned::from(p)),
            Err(e) => errs.push(e),
        }
    }
    assert!(r.next_packet().is_none(), "reader yields after its end");
    (pkts, errs)
}

/// A pcap file (little-endian) of `link` with records `(ts_sec, ts_frac,
/// data, orig_len)`.
pub(crate) fn pcap(
    link: LinkType,
    nanosecond: bool,
    records: &[(u32, u32, &[u8], u32)],
) -> Vec<u8> {
    let header = PcapHeader {
        magic_number: if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 },
        version_major: 2,
        version_minor: 4,
        thiszone: 0,
        sigfigs: 0,
        snaplen: 262_144,
        network: Linktype(link.0 as i32),
    };
    let mut out = header.to_vec_raw().unwrap();
    for &(ts_sec, ts_usec, data, origlen) in records {
        let rec = LegacyPcapBlock {
            ts_sec,
            ts_usec,
            caplen: data.len() as u32,
            origlen,
            data,
        };
        out.extend(rec.to_vec_raw().unwrap());
    }
    out
}

/// A pcapng written by [`PcapngWriter`]: interfaces `(name, link)`, then
/// packets `(if_id, ts_nanos, frame)`.
pub(crate) fn pcapng(ifaces: &[(&str, LinkType)], packets: &[(u32, i128, &[u8])]) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    for (name, link) in ifaces {
        w.add_interface(name, *link).unwrap();
    }
    for &(id, ts, frame) in packets {
        w.write_packet(id, ts, frame).unwrap();
    }
    w.into_inner()
}

/// An Interface Description Block without name, with `if_tsresol` and
/// `if_tsoffset` given.
pub(crate) fn idb(link: LinkType, snaplen: u32, tsresol: u8, tsoffset: i64) -> Vec<u8> {
    let offset = tsoffset.to_le_bytes();
    let mut b = InterfaceDescriptionBlock {
        block_type: IDB_MAGIC,
        block_len1: 0,
        linktype: Linktype(link.0 as i32),
        reserved: 0,
        snaplen,
        options: vec![
            PcapNGOption {
                code: OptionCode::IfTsresol,
                len: 1,
                value: Cow::Owned(vec![tsresol]),
            },
            PcapNGOption {
                code: OptionCode::IfTsoffset,
                len: 8,
                value: Cow::Owned(offset.to_vec()),
            },
        ],
        block_len2: 0,
        if_tsresol: tsresol,
        if_tsoffset: tsoffset,
    };
    b.to_vec().unwrap()
}

/// A Simple Packet Block.
pub(crate) fn spb(origlen: u32, data: &[u8]) -> Vec<u8> {
    let mut b = SimplePacketBlock {
        block_type: SPB_MAGIC,
        block_len1: 0,
        origlen,
        data,
        block_len2: 0,
    };
    b.to_vec().unwrap()
}

/// A 60-byte Ethernet frame whose bytes tell `n` apart.
pub(crate) fn eth_frame(n: u8) -> Vec<u8> {
    let mut f = vec![n; 60];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

/// A Linux cooked v1 record: header then `payload`.
pub(crate) fn sll_record(pkt_type: u16, src: [u8; 6], protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&pkt_type.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&6u16.to_be_bytes());
    v.extend_from_slice(&src);
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&protocol.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A Linux cooked v2 record: header then `payload`.
pub(crate) fn sll2_record(
    ifindex: u32,
    pkt_type: u8,
    src: [u8; 6],
    protocol: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&protocol.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&ifindex.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.push(pkt_type);
    v.push(6);
    v.extend_from_slice(&src);
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// A minimal IPv4 header (no options) from 10.0.0.1 to `dst`.
pub(crate) fn ipv4(dst: [u8; 4]) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1];
    ip.extend_from_slice(&dst);
    ip
}
