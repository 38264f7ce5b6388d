//! Reading does not allocate per packet: a counting global allocator (in its
//! own test binary, so nothing else runs beside it) sees zero allocations
//! while thousands of packets are read, once the reader is warmed up, for
//! pcap and pcapng, Ethernet and synthesized (SLL) frames.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fwdsim_pcap::{CaptureReader, LinkType, PcapngWriter};
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PACKETS: usize = 5000;
const WARM_UP: usize = 10;

fn pcap(link: LinkType, frame: &[u8]) -> Vec<u8> {
    let header = PcapHeader {
        network: Linktype(link.0 as i32),
        ..PcapHeader::new()
    };
    let mut out = header.to_vec_raw().unwrap();
    for i in 0..PACKETS {
        let len = frame.len() as u32;
        let rec = LegacyPcapBlock {
            ts_sec: i as u32,
            ts_usec: 0,
            caplen: len,
            origlen: len,
            data: frame,
        };
        out.extend(rec.to_vec_raw().unwrap());
    }
    out
}

fn pcapng(link: LinkType, frame: &[u8]) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let a = w.add_interface("eth0", link).unwrap();
    let b = w.add_interface("eth1", link).unwrap();
    for i in 0..PACKETS {
        w.write_packet(if i % 2 == 0 { a } else { b }, i as i128, frame)
            .unwrap();
    }
    w.into_inner()
}

/// Reads `bytes` and returns the allocations made after the warm-up, and the
/// packets read.
fn allocations_after_warm_up(bytes: &[u8]) -> (usize, usize) {
    let mut r = CaptureReader::new(bytes).unwrap();
    let (mut n, mut sum, mut before) = (0, 0u64, 0);
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        sum += u64::from(p.frame[p.frame.len() - 1]) + p.iif_name.map_or(0, |s| s.len() as u64);
        n += 1;
        if n == WARM_UP {
            before = ALLOCS.load(Ordering::Relaxed);
        }
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    std::hint::black_box(sum);
    (after - before, n)
}

#[test]
fn reading_does_not_allocate_per_packet() {
    let mut eth = vec![0x5au8; 1514];
    eth[12..14].copy_from_slice(&[0x08, 0x00]);
    let mut sll = vec![0u8; 16];
    sll[4..6].copy_from_slice(&6u16.to_be_bytes());
    sll[14..16].copy_from_slice(&0x0800u16.to_be_bytes());
    sll.extend_from_slice(&[0x45; 1500]);
    let captures = [
        ("pcap ethernet", pcap(LinkType::ETHERNET, &eth)),
        ("pcap sll", pcap(LinkType::LINUX_SLL, &sll)),
        ("pcapng ethernet", pcapng(LinkType::ETHERNET, &eth)),
        ("pcapng sll", pcapng(LinkType::LINUX_SLL, &sll)),
    ];
    for (name, bytes) in &captures {
        let (allocs, n) = allocations_after_warm_up(bytes);
        assert_eq!(n, PACKETS, "{name}");
        assert_eq!(
            allocs,
            0,
            "{name}: {allocs} allocations for {} packets",
            PACKETS - WARM_UP
        );
    }
    // The allocator does count (the readers' buffers).
    assert!(ALLOCS.load(Ordering::Relaxed) > 0);
}
