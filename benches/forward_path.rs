//! The whole per-packet path on an in-memory batch of Ethernet frames:
//! `eth_type_trans`, `ip_rcv_core`, the route decision on a 1M-prefix table,
//! `dst_input` → `ip_forward` (TTL and checksum rewrite), `ip_output`, the
//! neighbour and the egress frame. Reports packets per second on one core
//! (criterion's throughput) and, before measuring, the allocations per
//! packet counted by a global allocator (which must be zero).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput};
use fwdsim_kernel::core::dev::netif_receive_skb;
use fwdsim_kernel::ipv4::ip_hdr::ip_compute_csum;
use fwdsim_kernel::trace::NoTrace;

#[path = "common.rs"]
mod common;

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

const PREFIXES: usize = 1_000_000;
const BATCH: usize = 4096;

/// UDP frames from 10.0.1.2 to each destination, to r0's MAC.
fn frames(r0_mac: [u8; 6], dsts: &[u32]) -> Vec<[u8; 60]> {
    dsts.iter()
        .map(|&d| {
            let mut f = [0u8; 60];
            f[0..6].copy_from_slice(&r0_mac);
            f[6..12].copy_from_slice(&[2, 0, 0, 0, 1, 2]);
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            let ip = &mut f[14..];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&46u16.to_be_bytes());
            ip[8] = 64;
            ip[9] = 17;
            ip[12..16].copy_from_slice(&Ipv4Addr::new(10, 0, 1, 2).octets());
            ip[16..20].copy_from_slice(&Ipv4Addr::from(d).octets());
            let c = ip_compute_csum(&ip[..20]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            ip[20..22].copy_from_slice(&4000u16.to_be_bytes());
            ip[22..24].copy_from_slice(&53u16.to_be_bytes());
            ip[24..26].copy_from_slice(&26u16.to_be_bytes());
            f
        })
        .collect()
}

fn main() {
    let (mut ns, r0, dsts) = common::router(PREFIXES, BATCH);
    let r0_mac = ns.dev(r0).expect("r0").dev_addr;
    let batch = frames(r0_mac, &dsts);
    let mut buf = [0u8; 60];
    let mut run = |ns: &mut fwdsim_kernel::Netns| {
        let mut forwarded = 0;
        for f in &batch {
            buf = *f;
            let o = netif_receive_skb(ns, &mut buf, r0, &mut NoTrace);
            forwarded += (o.verdict == fwdsim_kernel::core::dev::Verdict::Forward) as usize;
        }
        forwarded
    };
    // Warm the caches and buffers, then count.
    let forwarded = run(&mut ns);
    assert_eq!(forwarded, BATCH, "every packet is forwarded");
    let before = ALLOCS.load(Ordering::Relaxed);
    run(&mut ns);
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    println!(
        "forward_path: {} allocations per packet ({allocs} in {BATCH} packets)",
        allocs as f64 / BATCH as f64
    );
    assert_eq!(allocs, 0, "the per-packet path must not allocate");

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("forward_path/1M");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("netif_receive_skb", |b| b.iter(|| black_box(run(&mut ns))));
    g.finish();
    c.final_summary();
}
