//! Reading: each link type in pcap and pcapng, interfaces, timestamps,
//! offsets, and each way a capture can be broken.

use std::io::{self, Read};

use super::*;
use crate::{
    CaptureFormat, LinkKind, MAX_RECORD_LEN, OTHERHOST_MAC, PACKET_BROADCAST, PACKET_HOST,
    PACKET_OTHERHOST, PLACEHOLDER_MAC,
};

const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

#[test]
fn pcap_ethernet_microseconds() {
    let (a, b) = (eth_frame(1), eth_frame(2));
    let bytes = pcap(
        LinkType::ETHERNET,
        false,
        &[(100, 5, &a, 60), (101, 999_999, &b[..40], 60)],
    );
    let r = CaptureReader::new(&bytes[..]).unwrap();
    assert_eq!(
        r.format(),
        CaptureFormat::Pcap {
            link_type: LinkType::ETHERNET,
            nanosecond: false
        }
    );
    let (pkts, errs) = read_all(&bytes);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(
        pkts,
        vec![
            Owned {
                index: 1,
                ts_nanos: 100_000_005_000,
                frame: a.clone(),
                orig_len: 60,
                iif_name: None,
                iif_index: None,
                pkt_type: None,
                direction: None,
                offset: 24,
            },
            Owned {
                index: 2,
                ts_nanos: 101_999_999_000,
                frame: b[..40].to_vec(),
                orig_len: 60,
                iif_name: None,
                iif_index: None,
                pkt_type: None,
                direction: None,
                offset: 24 + 16 + 60,
            },
        ]
    );
}

#[test]
fn pcap_nanoseconds_and_fcs_bits_in_link_type() {
    let f = eth_frame(3);
    // Upper bits of the link type field carry FCS information (LT_FCS_*).
    let bytes = pcap(LinkType(0x1000_0001), true, &[(7, 123_456_789, &f, 60)]);
    let r = CaptureReader::new(&bytes[..]).unwrap();
    assert_eq!(
        r.format(),
        CaptureFormat::Pcap {
            link_type: LinkType::ETHERNET,
            nanosecond: true
        }
    );
    let (pkts, errs) = read_all(&bytes);
    assert!(errs.is_empty());
    assert_eq!(pkts[0].ts_nanos, 7_123_456_789);
}

#[test]
fn pcap_big_endian() {
    let f = eth_frame(4);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
    bytes.extend_from_slice(&2u16.to_be_bytes());
    bytes.extend_from_slice(&4u16.to_be_bytes());
    for w in [0u32, 0, 65535, 1] {
        bytes.extend_from_slice(&w.to_be_bytes());
    }
    for w in [9u32, 10, 60, 1514] {
        bytes.extend_from_slice(&w.to_be_bytes());
    }
    bytes.extend_from_slice(&f);
    let (pkts, errs) = read_all(&bytes);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(
        (pkts[0].ts_nanos, pkts[0].orig_len, &pkts[0].frame),
        (9_000_010_000, 1514, &f)
    );
}

#[test]
fn pcap_linux_sll() {
    let ip = ipv4([10, 0, 0, 2]);
    let host = sll_record(PACKET_HOST, SRC, 0x0800, &ip);
    let other = sll_record(PACKET_OTHERHOST, SRC, 0x0800, &ip);
    let bytes = pcap(
        LinkType::LINUX_SLL,
        false,
        &[(1, 0, &host, 36), (2, 0, &other, 36)],
    );
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!(
        (p.link, p.pkt_type, p.iif_index, p.iif_name),
        (LinkKind::LinuxSll, Some(PACKET_HOST), None, None)
    );
    assert!(p.dst_is_placeholder());
    let mut want = PLACEHOLDER_MAC.to_vec();
    want.extend_from_slice(&SRC);
    want.extend_from_slice(&[0x08, 0x00]);
    want.extend_from_slice(&ip);
    assert_eq!(p.frame, &want[..]);
    assert_eq!(p.orig_len, 36);
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!(p.pkt_type, Some(PACKET_OTHERHOST));
    assert!(!p.dst_is_placeholder());
    assert_eq!(p.frame[..6], OTHERHOST_MAC);
    assert!(r.next_packet().is_none());
    assert_eq!(r.packets_read(), 2);
}

#[test]
fn pcap_linux_sll2_interface_index() {
    let ip = ipv4([255, 255, 255, 255]);
    let rec = sll2_record(42, PACKET_BROADCAST as u8, SRC, 0x0800, &ip);
    let bytes = pcap(LinkType::LINUX_SLL2, false, &[(1, 0, &rec, 40)]);
    let (pkts, errs) = read_all(&bytes);
    assert!(errs.is_empty());
    assert_eq!(
        (pkts[0].iif_index, pkts[0].pkt_type),
        (Some(42), Some(PACKET_BROADCAST))
    );
    assert_eq!(pkts[0].frame[..6], [0xff; 6]);
    assert_eq!(pkts[0].frame[6..12], SRC);
    assert_eq!(pkts[0].frame[14..], ip[..]);
}

#[test]
fn pcap_raw_ip_link_types() {
    let ip = ipv4([10, 0, 0, 2]);
    for lt in [
        LinkType::RAW,
        LinkType::IPV4,
        LinkType::DLT_RAW_12,
        LinkType::DLT_RAW_14,
    ] {
        let bytes = pcap(lt, false, &[(1, 0, &ip, 20)]);
        let mut r = CaptureReader::new(&bytes[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.link, LinkKind::RawIp);
        assert!(p.dst_is_placeholder());
        assert_eq!(p.frame[12..14], [0x08, 0x00], "{lt}");
        assert_eq!(p.frame[14..], ip[..]);
    }
}

#[test]
fn pcap_unsupported_link_type_is_per_packet() {
    let f = eth_frame(5);
    let bytes = pcap(
        LinkType::IEEE802_11_RADIOTAP,
        false,
        &[(1, 0, &f, 60), (2, 0, &f, 60)],
    );
    let (pkts, errs) = read_all(&bytes);
    assert!(pkts.is_empty());
    assert_eq!(errs.len(), 2);
    for (i, e) in errs.iter().enumerate() {
        assert!(
            matches!(e, CaptureError::UnsupportedLinkType { link_type: LinkType::IEEE802_11_RADIOTAP, offset, packets_read }
                if *offset == 24 + 76 * i as u64 && *packets_read == i as u64),
            "{e:?}"
        );
        assert!(!e.is_fatal());
    }
}

#[test]
fn sll_record_shorter_than_its_header() {
    let ip = ipv4([10, 0, 0, 2]);
    let rec = sll_record(PACKET_HOST, SRC, 0x0800, &ip);
    let bytes = pcap(
        LinkType::LINUX_SLL,
        false,
        &[(1, 0, &rec[..10], 36), (2, 0, &rec, 36)],
    );
    let (pkts, errs) = read_all(&bytes);
    assert!(matches!(
        errs[..],
        [CaptureError::LinkHeaderTooShort {
            link_type: LinkType::LINUX_SLL,
            len: 10,
            need: 16,
            offset: 24,
            packets_read: 0
        }]
    ));
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].index, 2);
}

#[test]
fn pcapng_interfaces_names_and_link_types() {
    let ip = ipv4([10, 0, 0, 9]);
    let sll2 = sll2_record(3, PACKET_HOST as u8, SRC, 0x0800, &ip);
    let eth = eth_frame(6);
    let bytes = pcapng(
        &[
            ("eth0", LinkType::ETHERNET),
            ("any", LinkType::LINUX_SLL2),
            ("tun0", LinkType::RAW),
            ("wlan0", LinkType(127)),
        ],
        &[
            (0, 10, &eth),
            (1, 20, &sll2),
            (2, 30, &ip),
            (3, 40, &eth),
            (0, 50, &eth),
        ],
    );
    assert_eq!(
        CaptureReader::new(&bytes[..]).unwrap().format(),
        CaptureFormat::Pcapng
    );
    let (pkts, errs) = read_all(&bytes);
    let got: Vec<_> = pkts
        .iter()
        .map(|p| (p.index, p.iif_name.as_deref(), p.iif_index, p.ts_nanos))
        .collect();
    assert_eq!(
        got,
        [
            (1, Some("eth0"), None, 10),
            (2, Some("any"), Some(3), 20),
            (3, Some("tun0"), None, 30),
            (5, Some("eth0"), None, 50)
        ]
    );
    assert_eq!(pkts[0].frame, eth);
    assert_eq!(pkts[1].frame[14..], ip[..]);
    assert_eq!(pkts[2].frame[14..], ip[..]);
    assert!(matches!(
        errs[..],
        [CaptureError::UnsupportedLinkType {
            link_type: LinkType(127),
            packets_read: 3,
            ..
        }]
    ));
    // Offsets point at the packets' blocks: each EPB starts with type 6.
    for p in &pkts {
        assert_eq!(bytes[p.offset as usize..][..4], [6, 0, 0, 0]);
    }
}

#[test]
fn pcapng_sections_reset_interfaces() {
    let f = eth_frame(7);
    let mut bytes = pcapng(
        &[("eth0", LinkType::ETHERNET), ("eth1", LinkType::ETHERNET)],
        &[(1, 1, &f)],
    );
    bytes.extend(pcapng(&[("veth9", LinkType::ETHERNET)], &[(0, 2, &f)]));
    let (pkts, errs) = read_all(&bytes);
    assert!(errs.is_empty());
    let names: Vec<_> = pkts.iter().map(|p| p.iif_name.as_deref()).collect();
    assert_eq!(names, [Some("eth1"), Some("veth9")]);

    // In the second section only one interface is described.
    let two = pcapng(
        &[("x", LinkType::ETHERNET), ("y", LinkType::ETHERNET)],
        &[(1, 0, &f)],
    );
    let epb_on_if1 = &two[two.len() - (32 + 60)..];
    let mut bytes = pcapng(
        &[("eth0", LinkType::ETHERNET), ("eth1", LinkType::ETHERNET)],
        &[],
    );
    bytes.extend(pcapng(&[("veth9", LinkType::ETHERNET)], &[]));
    let at = bytes.len() as u64;
    bytes.extend_from_slice(epb_on_if1);
    let (_, errs) = read_all(&bytes);
    assert!(
        matches!(&errs[..], [CaptureError::Corrupt { offset, packets_read: 0, msg }]
            if *offset == at && msg == "packet block names interface 1; the section has 1 interface description blocks"),
        "{errs:?}"
    );
}

#[test]
fn pcapng_timestamp_resolution_and_offset() {
    let f = eth_frame(8);
    let mut bytes = pcapng(&[], &[]);
    // Microseconds (the default resolution) and an offset of 1000 s.
    bytes.extend(idb(LinkType::ETHERNET, 0, 6, 1000));
    // 2^-10 s units, snaplen 20.
    bytes.extend(idb(LinkType::ETHERNET, 20, 0x80 | 10, 0));
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.add_interface("a", LinkType::ETHERNET).unwrap();
    w.add_interface("b", LinkType::ETHERNET).unwrap();
    w.write_packet(0, 2_500_001, &f).unwrap(); // 2.500001 s in µs units
    w.write_packet(1, 3 * 1024 + 512, &f).unwrap(); // 3.5 s in 2^-10 units
    let written = w.into_inner();
    // Keep only the written EPBs: skip its SHB and IDBs.
    let shb_idbs = pcapng(&[("a", LinkType::ETHERNET), ("b", LinkType::ETHERNET)], &[]).len();
    bytes.extend(&written[shb_idbs..]);
    // A Simple Packet Block goes to interface 0 and has no timestamp.
    bytes.extend(spb(70, &f));
    let (pkts, errs) = read_all(&bytes);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(pkts[0].ts_nanos, 1_002_500_001_000);
    assert_eq!(pkts[1].ts_nanos, 3_500_000_000);
    assert_eq!(pkts[2].ts_nanos, 0);
    assert_eq!((pkts[2].orig_len, pkts[2].frame.len()), (70, 60));
}

#[test]
fn simple_packet_block_cut_to_snaplen() {
    let f = eth_frame(9);
    let mut bytes = pcapng(&[], &[]);
    bytes.extend(idb(LinkType::ETHERNET, 20, 9, 0));
    bytes.extend(spb(60, &f));
    let (pkts, _) = read_all(&bytes);
    assert_eq!(pkts[0].frame, f[..20]);
}

#[test]
fn truncated_header() {
    let full = pcap(LinkType::ETHERNET, false, &[]);
    for cut in [4, 10, 23] {
        let (_, errs) = read_all(&full[..cut]);
        assert!(
            matches!(
                errs[..],
                [CaptureError::Truncated {
                    offset: 0,
                    packets_read: 0
                }]
            ),
            "{cut}: {errs:?}"
        );
    }
    let ng = pcapng(&[("eth0", LinkType::ETHERNET)], &[]);
    for cut in [4, 12, 27] {
        let (_, errs) = read_all(&ng[..cut]);
        assert!(
            matches!(
                errs[..],
                [CaptureError::Truncated {
                    offset: 0,
                    packets_read: 0
                }]
            ),
            "{cut}: {errs:?}"
        );
    }
}

#[test]
fn truncated_record_after_good_ones() {
    let f = eth_frame(10);
    let full = pcap(
        LinkType::ETHERNET,
        false,
        &[(1, 0, &f, 60), (2, 0, &f, 60), (3, 0, &f, 60)],
    );
    let third = 24 + 2 * 76;
    for cut in [third + 1, third + 16, third + 70] {
        let (pkts, errs) = read_all(&full[..cut]);
        assert_eq!(pkts.len(), 2);
        assert!(
            matches!(errs[..], [CaptureError::Truncated { offset, packets_read: 2 }] if offset == third as u64),
            "{errs:?}"
        );
    }
    // Ending exactly between records is a clean end.
    let (pkts, errs) = read_all(&full[..third]);
    assert_eq!((pkts.len(), errs.len()), (2, 0));

    let ng = pcapng(&[("eth0", LinkType::ETHERNET)], &[(0, 1, &f), (0, 2, &f)]);
    let (pkts, errs) = read_all(&ng[..ng.len() - 3]);
    assert_eq!(pkts.len(), 1);
    let second = pkts[0].offset + 32 + 60;
    assert!(
        matches!(errs[..], [CaptureError::Truncated { offset, packets_read: 1 }] if offset == second),
        "{errs:?}"
    );
}

#[test]
fn bad_magic_and_empty_file() {
    let (_, errs) = read_all(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    assert!(
        matches!(&errs[..], [CaptureError::NotACapture { found }] if found == "magic number 7f454c46")
    );
    let (_, errs) = read_all(b"");
    assert!(matches!(&errs[..], [CaptureError::NotACapture { found }] if found == "an empty file"));
    let (_, errs) = read_all(b"ab");
    assert!(
        matches!(&errs[..], [CaptureError::NotACapture { found }] if found == "a file of 2 bytes")
    );
}

#[test]
fn corrupt_pcapng_block() {
    let f = eth_frame(11);
    let mut ng = pcapng(&[("eth0", LinkType::ETHERNET)], &[(0, 1, &f), (0, 2, &f)]);
    let (pkts, _) = read_all(&ng);
    let second = pkts[1].offset as usize;
    // Trailing length differs from the leading one.
    let end = ng.len();
    ng[end - 4] ^= 0x10;
    let (pkts, errs) = read_all(&ng);
    assert_eq!(pkts.len(), 1);
    assert!(
        matches!(&errs[..], [CaptureError::Corrupt { offset, packets_read: 1, msg }]
            if *offset == second as u64 && msg == "malformed pcapng block (type 0x00000006, length 92)"),
        "{errs:?}"
    );
}

#[test]
fn record_longer_than_the_limit() {
    // A record claiming 64 MiB, followed by more than the limit of data.
    let mut head = pcap(LinkType::ETHERNET, false, &[]);
    head.extend_from_slice(&[0; 8]);
    head.extend_from_slice(&(64u32 << 20).to_le_bytes());
    head.extend_from_slice(&(64u32 << 20).to_le_bytes());
    let body = io::repeat(0).take(MAX_RECORD_LEN as u64 + 4096);
    let mut r = CaptureReader::new((&head[..]).chain(body)).unwrap();
    let e = r.next_packet().unwrap().unwrap_err();
    assert!(
        matches!(&e, CaptureError::Corrupt { offset: 24, packets_read: 0, msg } if msg == "record longer than 16 MiB"),
        "{e:?}"
    );
    assert!(r.next_packet().is_none());
}

/// Yields its bytes `chunk` at a time, with an `Interrupted` before each
/// read, and fails with `fail` once they are spent (if set).
struct Trickle<'a> {
    bytes: &'a [u8],
    chunk: usize,
    interrupt: bool,
    fail: Option<io::ErrorKind>,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if let (true, Some(kind)) = (self.bytes.is_empty(), self.fail) {
            return Err(io::Error::new(kind, "disk on fire"));
        }
        let n = self.chunk.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

#[test]
fn short_and_interrupted_reads() {
    let f = eth_frame(12);
    let ng = pcapng(&[("eth0", LinkType::ETHERNET)], &[(0, 1, &f), (0, 2, &f)]);
    let pc = pcap(LinkType::ETHERNET, false, &[(1, 0, &f, 60), (2, 0, &f, 60)]);
    for bytes in [&ng, &pc] {
        let (want, _) = read_all(bytes);
        for chunk in [1, 3, 7, 64] {
            let mut r = CaptureReader::new(Trickle {
                bytes,
                chunk,
                interrupt: false,
                fail: None,
            })
            .unwrap();
            let mut got = Vec::new();
            while let Some(p) = r.next_packet() {
                got.push(Owned::from(p.unwrap()));
            }
            assert_eq!(got, want, "chunk {chunk}");
        }
    }
}

#[test]
fn read_error_after_good_packets() {
    let f = eth_frame(13);
    let pc = pcap(LinkType::ETHERNET, false, &[(1, 0, &f, 60), (2, 0, &f, 60)]);
    let cut = &pc[..24 + 76 + 30];
    let mut r = CaptureReader::new(Trickle {
        bytes: cut,
        chunk: 1000,
        interrupt: false,
        fail: Some(io::ErrorKind::Other),
    })
    .unwrap();
    assert!(r.next_packet().unwrap().is_ok());
    let e = r.next_packet().unwrap().unwrap_err();
    assert!(
        matches!(&e, CaptureError::Io { offset: 100, packets_read: 1, source } if source.to_string() == "disk on fire")
    );
    assert!(r.next_packet().is_none());
    // An error before the header is read.
    let e = CaptureReader::new(Trickle {
        bytes: b"",
        chunk: 1,
        interrupt: false,
        fail: Some(io::ErrorKind::Other),
    })
    .err()
    .unwrap();
    assert!(matches!(
        e,
        CaptureError::Io {
            offset: 0,
            packets_read: 0,
            ..
        }
    ));
}

#[test]
fn large_packets_and_long_captures_stream() {
    // A 300 KiB frame needs the buffer to grow; 4000 packets overrun it many
    // times over.
    let big = vec![0xabu8; 300 * 1024];
    let f = eth_frame(14);
    let mut packets: Vec<(u32, i128, &[u8])> = vec![(0, 0, &big[..])];
    packets.extend((1..=4000).map(|i| (0, i, &f[..])));
    let ng = pcapng(&[("eth0", LinkType::ETHERNET)], &packets);
    let mut r = CaptureReader::new(&ng[..]).unwrap();
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!(p.frame.len(), big.len());
    let mut n = 1;
    let mut last_offset = p.offset;
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        n += 1;
        assert_eq!(p.ts_nanos, i128::from(n as u32 - 1));
        assert!(p.offset > last_offset);
        last_offset = p.offset;
    }
    assert_eq!(n, 4001);
    assert_eq!(r.offset(), ng.len() as u64);
}

#[test]
fn open_missing_file() {
    let e = CaptureReader::open("/nonexistent/capture.pcap")
        .err()
        .unwrap();
    assert!(
        matches!(&e, CaptureError::Open { path, .. } if path.to_str() == Some("/nonexistent/capture.pcap"))
    );
    assert!(e.is_fatal());
}
