//! Property tests: arbitrary bytes and mutated valid captures never panic
//! and always end; a capture cut anywhere yields a prefix of its packets and
//! then at most a `Truncated` error.

use proptest::prelude::*;

use super::*;

/// A valid capture of a few packets: pcap or pcapng, of a supported or
/// unsupported link type.
fn valid_capture() -> impl Strategy<Value = Vec<u8>> {
    let link = prop_oneof![
        Just(LinkType::ETHERNET),
        Just(LinkType::LINUX_SLL),
        Just(LinkType::LINUX_SLL2),
        Just(LinkType::RAW),
        Just(LinkType::IPV4),
        Just(LinkType(127)),
    ];
    let frames = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..6);
    (any::<bool>(), any::<bool>(), link, frames).prop_map(|(ng, nanos, link, frames)| {
        if ng {
            let packets: Vec<(u32, i128, &[u8])> = frames
                .iter()
                .enumerate()
                .map(|(i, f)| ((i % 2) as u32, i as i128 * 1000, &f[..]))
                .collect();
            pcapng(&[("eth0", link), ("eth1", LinkType::ETHERNET)], &packets)
        } else {
            let records: Vec<(u32, u32, &[u8], u32)> = frames
                .iter()
                .enumerate()
                .map(|(i, f)| (i as u32, 0, &f[..], f.len() as u32))
                .collect();
            pcap(link, nanos, &records)
        }
    })
}

/// A mutation of a capture.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR a byte (position taken modulo the length).
    Flip(usize, u8),
    /// Overwrite 4 bytes, as a length field would be.
    Word(usize, u32),
    /// Cut the capture.
    Cut(usize),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        (any::<usize>(), any::<u32>()).prop_map(|(at, w)| Mutation::Word(at, w)),
        any::<usize>().prop_map(Mutation::Cut),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, v)| Mutation::Insert(at, v)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match m {
            Mutation::Flip(at, x) => bytes[at % len] ^= x,
            Mutation::Word(at, w) => {
                let at = at % len;
                for (i, b) in w.to_le_bytes().into_iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(at + i) {
                        *slot = b;
                    }
                }
            }
            Mutation::Cut(at) => bytes.truncate(at % len),
            Mutation::Insert(at, v) => {
                let at = at % len;
                bytes.splice(at..at, v.iter().copied());
            }
        }
    }
    bytes
}

// 256 cases each by default; PROPTEST_CASES=100000 for a longer hunt.
proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        read_all(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        ng in any::<bool>(),
        link in any::<u16>(),
        tail in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = if ng {
            pcapng(&[("x", LinkType(u32::from(link)))], &[])
        } else {
            pcap(LinkType(u32::from(link)), false, &[])
        };
        bytes.extend(tail);
        read_all(&bytes);
    }

    #[test]
    fn mutated_captures_never_panic(
        bytes in valid_capture(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        read_all(&apply(bytes, &mutations));
    }

    #[test]
    fn cut_captures_yield_a_prefix_then_truncated(bytes in valid_capture(), cut in any::<usize>()) {
        let (all, all_errs) = read_all(&bytes);
        prop_assert!(all_errs.iter().all(|e| !e.is_fatal()));
        let cut = cut % (bytes.len() + 1);
        let (pkts, errs) = read_all(&bytes[..cut]);
        prop_assert_eq!(&all[..pkts.len()], &pkts[..]);
        let fatal: Vec<_> = errs.iter().filter(|e| e.is_fatal()).collect();
        prop_assert!(fatal.len() <= 1);
        if let Some(e) = fatal.first() {
            let records = pkts.len() as u64 + (errs.len() as u64 - 1);
            let ok = matches!(e, CaptureError::Truncated { packets_read, .. } if *packets_read == records)
                || (cut < 4 && matches!(e, CaptureError::NotACapture { .. }));
            prop_assert!(ok, "{:?}", e);
        }
    }
}
