//! The `Display` text of every error variant: one line, saying where and how
//! far reading got.

use std::io;
use std::path::PathBuf;

use crate::{CaptureError, LinkType, WriteError};

fn one_line(e: &impl std::fmt::Display) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "{s}");
    s
}

#[test]
fn capture_error_display() {
    let cases: Vec<(CaptureError, &str)> = vec![
        (
            CaptureError::Open {
                path: PathBuf::from("x.pcap"),
                source: io::Error::from(io::ErrorKind::NotFound),
            },
            "cannot open capture x.pcap: entity not found",
        ),
        (
            CaptureError::Io {
                offset: 4096,
                packets_read: 12,
                source: io::Error::other("disk on fire"),
            },
            "read error at byte 4096 after 12 packets: disk on fire",
        ),
        (
            CaptureError::NotACapture {
                found: "magic number 7f454c46".into(),
            },
            "not a pcap or pcapng capture: magic number 7f454c46 at byte 0; expected a pcap magic number \
             (a1b2c3d4, a1b23c4d or a1b2cd34, either byte order) or a pcapng section header (0a0d0d0a)",
        ),
        (
            CaptureError::Truncated {
                offset: 1000,
                packets_read: 9,
            },
            "capture truncated at byte 1000 after 9 packets: the file ends inside the header or record that starts there",
        ),
        (
            CaptureError::Corrupt {
                offset: 88,
                packets_read: 1,
                msg: "malformed pcapng block (type 0x00000006, length 92)".into(),
            },
            "corrupt capture at byte 88 after 1 packets: malformed pcapng block (type 0x00000006, length 92)",
        ),
        (
            CaptureError::UnsupportedLinkType {
                link_type: LinkType(127),
                offset: 24,
                packets_read: 0,
            },
            "packet 1 at byte 24 has unsupported link type 127 (IEEE802_11_RADIOTAP) (0 packets read before it); \
             fwdsim reads ETHERNET (1), LINUX_SLL (113), LINUX_SLL2 (276) and raw IP (101, 228, 229, 12, 14)",
        ),
        (
            CaptureError::LinkHeaderTooShort {
                link_type: LinkType::LINUX_SLL,
                len: 10,
                need: 16,
                offset: 24,
                packets_read: 3,
            },
            "packet 4 at byte 24 is too short for its link type 113 (LINUX_SLL): 10 bytes captured, its header needs 16 \
             (3 packets read before it)",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(one_line(&e), want);
    }
}

#[test]
fn capture_error_accessors() {
    let e = CaptureError::Truncated {
        offset: 7,
        packets_read: 2,
    };
    assert_eq!(
        (e.offset(), e.packets_read(), e.is_fatal()),
        (Some(7), 2, true)
    );
    let e = CaptureError::UnsupportedLinkType {
        link_type: LinkType(9),
        offset: 5,
        packets_read: 1,
    };
    assert_eq!(
        (e.offset(), e.packets_read(), e.is_fatal()),
        (Some(5), 1, false)
    );
    let e = CaptureError::NotACapture {
        found: "an empty file".into(),
    };
    assert_eq!(
        (e.offset(), e.packets_read(), e.is_fatal()),
        (Some(0), 0, true)
    );
}

#[test]
fn write_error_display() {
    let cases: Vec<(WriteError, &str)> = vec![
        (
            WriteError::Create {
                path: PathBuf::from("/ro/out.pcapng"),
                source: io::Error::from(io::ErrorKind::PermissionDenied),
            },
            "cannot create capture /ro/out.pcapng: permission denied",
        ),
        (
            WriteError::Io {
                source: io::Error::other("disk full"),
            },
            "write error: disk full",
        ),
        (
            WriteError::UnknownInterface { if_id: 3, count: 2 },
            "no interface 3 in this pcapng (2 interfaces added)",
        ),
        (
            WriteError::InterfaceConflict {
                name: "eth0".into(),
                existing: LinkType::ETHERNET,
                requested: LinkType::RAW,
            },
            "interface eth0 was added with link type 1 (ETHERNET), not 101 (RAW)",
        ),
        (
            WriteError::NameTooLong { len: 70000 },
            "interface name of 70000 bytes is longer than a pcapng option allows (65535)",
        ),
        (
            WriteError::LinkTypeOutOfRange {
                link_type: LinkType(70000),
            },
            "link type 70000 does not fit a pcapng interface description (at most 65535)",
        ),
        (
            WriteError::TooManyInterfaces,
            "too many interfaces for one pcapng section (at most 2^32)",
        ),
        (
            WriteError::TimestampOutOfRange { ts_nanos: -1 },
            "timestamp -1 ns is outside what a pcapng nanosecond timestamp holds (0 to 2^64-1 ns since 1970)",
        ),
        (
            WriteError::PacketTooLarge { len: 5_000_000_000 },
            "packet of 5000000000 bytes is too large for a pcapng block",
        ),
        (
            WriteError::Serialize {
                msg: "BufferTooSmall(4)".into(),
            },
            "cannot serialize pcapng block: BufferTooSmall(4)",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(one_line(&e), want);
    }
}
