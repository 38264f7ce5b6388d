//! Writing: a written pcapng reads back with its names, timestamps and bytes.

use super::*;
use crate::{LinkKind, WriteError};

#[test]
fn round_trip_names_timestamps_bytes() {
    let frames: Vec<Vec<u8>> = (0..5)
        .map(|i| (0..60 + i * 7).map(|b| (b * 3 + i) as u8).collect())
        .collect();
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let eth1 = w.add_interface("eth1", LinkType::ETHERNET).unwrap();
    let docker0 = w.add_interface("docker0", LinkType::ETHERNET).unwrap();
    assert_eq!((eth1, docker0), (0, 1));
    assert_eq!(w.add_interface("eth1", LinkType::ETHERNET).unwrap(), eth1);
    assert_eq!(
        (w.interface_id("docker0"), w.interface_id("lo")),
        (Some(1), None)
    );
    let stamps: [i128; 5] = [
        0,
        1,
        1_700_000_000_123_456_789,
        4_294_967_296_000_000_001,
        u64::MAX as i128,
    ];
    let plan = [
        (eth1, 0),
        (docker0, 1),
        (eth1, 2),
        (docker0, 3),
        (docker0, 4),
    ];
    for (if_id, i) in plan {
        w.write_packet(if_id, stamps[i], &frames[i]).unwrap();
    }
    w.flush().unwrap();
    let bytes = w.into_inner();

    let (pkts, errs) = read_all(&bytes);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(pkts.len(), 5);
    for (p, (if_id, i)) in pkts.iter().zip(plan) {
        assert_eq!(
            p.iif_name.as_deref(),
            Some(["eth1", "docker0"][if_id as usize])
        );
        assert_eq!(p.ts_nanos, stamps[i]);
        assert_eq!(p.frame, frames[i]);
        assert_eq!(p.orig_len as usize, frames[i].len());
        assert_eq!(p.index, i as u64 + 1);
    }
}

#[test]
fn round_trip_other_link_types() {
    let ip = ipv4([10, 1, 2, 3]);
    let bytes = pcapng(&[("tun0", LinkType::RAW)], &[(0, 5, &ip)]);
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!((p.link, p.iif_name), (LinkKind::RawIp, Some("tun0")));
    assert_eq!(p.frame[14..], ip[..]);
}

#[test]
fn create_and_open_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.pcapng");
    let f = eth_frame(1);
    let mut w = PcapngWriter::create(&path).unwrap();
    let id = w.add_interface("eth0", LinkType::ETHERNET).unwrap();
    w.write_packet(id, 42, &f).unwrap();
    w.flush().unwrap();
    drop(w);
    let mut r = CaptureReader::open(&path).unwrap();
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!(
        (p.frame, p.ts_nanos, p.iif_name),
        (&f[..], 42, Some("eth0"))
    );

    let e = PcapngWriter::create(dir.path().join("no/such/dir.pcapng")).unwrap_err();
    assert!(matches!(e, WriteError::Create { .. }), "{e:?}");
}

#[test]
fn writer_rejects_what_pcapng_cannot_hold() {
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let id = w.add_interface("eth0", LinkType::ETHERNET).unwrap();
    assert!(matches!(
        w.add_interface("eth0", LinkType::RAW),
        Err(WriteError::InterfaceConflict {
            existing: LinkType::ETHERNET,
            requested: LinkType::RAW,
            ..
        })
    ));
    assert!(matches!(
        w.write_packet(1, 0, &[]),
        Err(WriteError::UnknownInterface { if_id: 1, count: 1 })
    ));
    assert!(matches!(
        w.write_packet(id, -1, &[]),
        Err(WriteError::TimestampOutOfRange { ts_nanos: -1 })
    ));
    let too_late = i128::from(u64::MAX) + 1;
    assert!(matches!(
        w.write_packet(id, too_late, &[]),
        Err(WriteError::TimestampOutOfRange { .. })
    ));
    let long = "x".repeat(70_000);
    assert!(matches!(
        w.add_interface(&long, LinkType::ETHERNET),
        Err(WriteError::NameTooLong { len: 70_000 })
    ));
    assert!(matches!(
        w.add_interface("big", LinkType(70_000)),
        Err(WriteError::LinkTypeOutOfRange {
            link_type: LinkType(70_000)
        })
    ));
    // The failed calls wrote nothing: the capture still reads cleanly.
    let (pkts, errs) = read_all(&w.into_inner());
    assert_eq!((pkts.len(), errs.len()), (0, 0));
}

/// Fails every write.
#[derive(Debug)]
struct Broken;

impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_surface() {
    let e = PcapngWriter::new(Broken).unwrap_err();
    assert!(matches!(&e, WriteError::Io { source } if source.to_string() == "disk full"));
}
