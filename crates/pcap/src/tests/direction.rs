//! The direction of each capture format: pcapng `epb_flags` (either byte
//! order), SLL and SLL2 packet types, and none for pcap Ethernet, raw IP
//! and pcapng blocks without flags.

use super::*;
use crate::{
    Direction, PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING,
};

const SRC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x01];

fn directions(bytes: &[u8]) -> Vec<Option<Direction>> {
    let (pkts, errs) = read_all(bytes);
    assert!(errs.is_empty(), "{errs:?}");
    pkts.iter().map(|p| p.direction).collect()
}

#[test]
fn epb_flags_values() {
    assert_eq!(Direction::from_epb_flags(0), None);
    assert_eq!(Direction::from_epb_flags(1), Some(Direction::Inbound));
    assert_eq!(Direction::from_epb_flags(2), Some(Direction::Outbound));
    assert_eq!(Direction::from_epb_flags(3), None);
    // The other bits (reception type, FCS length, errors) do not matter.
    assert_eq!(
        Direction::from_epb_flags(0x0100_0006),
        Some(Direction::Outbound)
    );
    assert_eq!(Direction::Inbound.epb_flags(), 1);
    assert_eq!(Direction::Outbound.epb_flags(), 2);
}

#[test]
fn pkt_type_values() {
    for t in [
        PACKET_HOST,
        PACKET_BROADCAST,
        PACKET_MULTICAST,
        PACKET_OTHERHOST,
    ] {
        assert_eq!(Direction::from_pkt_type(t), Some(Direction::Inbound), "{t}");
    }
    assert_eq!(
        Direction::from_pkt_type(PACKET_OUTGOING),
        Some(Direction::Outbound)
    );
    // PACKET_LOOPBACK, PACKET_USER, PACKET_KERNEL.
    for t in 5..=7 {
        assert_eq!(Direction::from_pkt_type(t), None, "{t}");
    }
}

#[test]
fn pcap_ethernet_has_no_direction() {
    let f = eth_frame(1);
    let bytes = pcap(LinkType::ETHERNET, false, &[(1, 0, &f, 60)]);
    assert_eq!(directions(&bytes), [None]);
}

#[test]
fn pcap_raw_ip_has_no_direction() {
    let ip = ipv4([10, 0, 0, 2]);
    let bytes = pcap(LinkType::RAW, false, &[(1, 0, &ip, 20)]);
    assert_eq!(directions(&bytes), [None]);
}

#[test]
fn pcap_sll_direction_from_packet_type() {
    let ip = ipv4([10, 0, 0, 2]);
    let recs: Vec<Vec<u8>> = [
        PACKET_HOST,
        PACKET_OUTGOING,
        PACKET_BROADCAST,
        PACKET_OTHERHOST,
        5,
    ]
    .iter()
    .map(|&t| sll_record(t, SRC, 0x0800, &ip))
    .collect();
    let records: Vec<(u32, u32, &[u8], u32)> = recs
        .iter()
        .map(|r| (1, 0, &r[..], r.len() as u32))
        .collect();
    let bytes = pcap(LinkType::LINUX_SLL, false, &records);
    use Direction::*;
    assert_eq!(
        directions(&bytes),
        [
            Some(Inbound),
            Some(Outbound),
            Some(Inbound),
            Some(Inbound),
            None
        ]
    );
    // The sender's address is kept as the source MAC of an outgoing frame.
    let (pkts, _) = read_all(&bytes);
    assert_eq!(pkts[1].frame[6..12], SRC);
}

#[test]
fn pcap_sll2_direction_from_packet_type() {
    let ip = ipv4([10, 0, 0, 2]);
    let out = sll2_record(4, PACKET_OUTGOING as u8, SRC, 0x0800, &ip);
    let mc = sll2_record(
        4,
        PACKET_MULTICAST as u8,
        SRC,
        0x0800,
        &ipv4([224, 0, 0, 22]),
    );
    let bytes = pcap(
        LinkType::LINUX_SLL2,
        false,
        &[(1, 0, &out, 40), (2, 0, &mc, 40)],
    );
    use Direction::*;
    assert_eq!(directions(&bytes), [Some(Outbound), Some(Inbound)]);
}

#[test]
fn pcapng_epb_flags_written_and_read() {
    let f = eth_frame(3);
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let d0 = w.add_interface("docker0", LinkType::ETHERNET).unwrap();
    let e0 = w.add_interface("eth0", LinkType::ETHERNET).unwrap();
    w.write_packet_with_direction(d0, 1, &f, Some(Direction::Inbound))
        .unwrap();
    w.write_packet_with_direction(e0, 2, &f, Some(Direction::Outbound))
        .unwrap();
    w.write_packet(d0, 3, &f).unwrap();
    w.write_packet_with_direction(d0, 4, &f, None).unwrap();
    let bytes = w.into_inner();
    use Direction::*;
    assert_eq!(
        directions(&bytes),
        [Some(Inbound), Some(Outbound), None, None]
    );
    let (pkts, _) = read_all(&bytes);
    assert_eq!(pkts[1].iif_name.as_deref(), Some("eth0"));
    assert_eq!(pkts[1].frame, f);
}

#[test]
fn pcapng_comments_written_and_read() {
    let f = eth_frame(3);
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let d0 = w.add_interface("docker0", LinkType::ETHERNET).unwrap();
    w.write_packet_with_options(d0, 1, &f, Some(Direction::Outbound), Some("line 2"))
        .unwrap();
    w.write_packet_with_options(d0, 2, &f, None, Some("line 12"))
        .unwrap();
    w.write_packet(d0, 3, &f).unwrap();
    let bytes = w.into_inner();
    let mut r = crate::CaptureReader::new(&bytes[..]).unwrap();
    let mut got = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        got.push((p.comment.map(str::to_string), p.direction, p.frame.to_vec()));
    }
    use Direction::*;
    assert_eq!(
        got,
        [
            (Some("line 2".to_string()), Some(Outbound), f.clone()),
            (Some("line 12".to_string()), None, f.clone()),
            (None, None, f.clone()),
        ]
    );
}

#[test]
fn pcapng_epb_flags_take_precedence_over_sll() {
    // An SLL2 interface in pcapng (dumpcap -i any): epb_flags, when
    // present, say the direction; else the packet type does.
    let ip = ipv4([10, 0, 0, 2]);
    let host = sll2_record(4, PACKET_HOST as u8, SRC, 0x0800, &ip);
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let any = w.add_interface("any", LinkType::LINUX_SLL2).unwrap();
    w.write_packet_with_direction(any, 1, &host, Some(Direction::Outbound))
        .unwrap();
    w.write_packet(any, 2, &host).unwrap();
    let bytes = w.into_inner();
    use Direction::*;
    assert_eq!(directions(&bytes), [Some(Outbound), Some(Inbound)]);
}

/// A big-endian pcapng: SHB, an Ethernet IDB, and one EPB per `flags`
/// (with an `epb_flags` option when given).
fn pcapng_be(flags: &[Option<u32>], frame: &[u8]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = 12 + body.len() as u32;
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&len.to_be_bytes());
    }
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_be_bytes());
    shb.extend_from_slice(&1u16.to_be_bytes());
    shb.extend_from_slice(&0u16.to_be_bytes());
    shb.extend_from_slice(&(-1i64).to_be_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_be_bytes());
    idb.extend_from_slice(&0u16.to_be_bytes());
    idb.extend_from_slice(&0u32.to_be_bytes());
    block(&mut out, 1, &idb);
    assert_eq!(frame.len() % 4, 0);
    for f in flags {
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_be_bytes());
        epb.extend_from_slice(&0u32.to_be_bytes());
        epb.extend_from_slice(&1u32.to_be_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        epb.extend_from_slice(frame);
        if let Some(v) = f {
            epb.extend_from_slice(&2u16.to_be_bytes());
            epb.extend_from_slice(&4u16.to_be_bytes());
            epb.extend_from_slice(&v.to_be_bytes());
            epb.extend_from_slice(&[0; 4]);
        }
        block(&mut out, 6, &epb);
    }
    out
}

#[test]
fn pcapng_big_endian_epb_flags() {
    let f = eth_frame(7);
    let bytes = pcapng_be(&[Some(1), Some(2), None, Some(0)], &f);
    use Direction::*;
    assert_eq!(
        directions(&bytes),
        [Some(Inbound), Some(Outbound), None, None]
    );
}
