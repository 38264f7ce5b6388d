//! The per-packet route decision does not allocate: a counting global
//! allocator (in its own test binary, counting the test thread's
//! allocations only) sees zero allocations across many `ip_route_input_noref` + `dst_input` calls
//! with `NoTrace`, once the host is loaded and the caches are warm.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use fwdsim_kernel::core::dst::dst_input;
use fwdsim_kernel::core::skbuff::SkBuff;
use fwdsim_kernel::ipv4::route::ip_route_input_noref;
use fwdsim_kernel::trace::NoTrace;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the test's own thread: the harness's threads allocate while
    /// the test runs, and only this thread's allocations are the packets'.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: defers to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn route_decision_and_dispatch_do_not_allocate() {
    COUNTING.with(|c| c.set(true));
    let root = env!("CARGO_MANIFEST_DIR");
    for (host, fwd) in [
        ("docker-forwarding-on.toml", true),
        ("docker-forwarding-off.toml", false),
    ] {
        let mut ns =
            fwdsim_host::load_host(&std::path::Path::new(root).join("fixtures/hosts").join(host))
                .unwrap();
        let docker0 = ns.dev_by_name("docker0").unwrap().ifindex;
        let dsts: Vec<Ipv4Addr> = [
            "8.8.8.8",
            "172.17.0.1",
            "10.0.2.2",
            "172.17.255.255",
            "224.0.0.1",
            "127.0.0.1",
            "0.0.0.0",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let src: Ipv4Addr = "172.17.0.2".parse().unwrap();
        let mut buf = [0u8; 28];
        let mut run = |ns: &mut fwdsim_kernel::Netns| {
            for &d in &dsts {
                ns.tx.clear(); // the replay loop clears the sent frames per packet
                // A UDP header's worth behind an IPv4 header from src to d
                // (rewritten each time: forwarding decreases the TTL).
                buf = [0u8; 28];
                buf[0] = 0x45;
                buf[3] = 28;
                buf[8] = 64;
                buf[9] = 17;
                buf[12..16].copy_from_slice(&src.octets());
                buf[16..20].copy_from_slice(&d.octets());
                buf[24..28].copy_from_slice(&[0, 8, 0, 0]);
                let c = fwdsim_kernel::ipv4::ip_hdr::ip_compute_csum(&buf[..20]);
                buf[10..12].copy_from_slice(&c.to_be_bytes());
                let mut skb = SkBuff::new(&mut buf, docker0, 0);
                if ip_route_input_noref(ns, &mut skb, d, src, 0, docker0, &mut NoTrace).is_ok() {
                    let _ = dst_input(ns, &mut skb, &mut NoTrace);
                }
            }
        };
        run(&mut ns); // warm the per-next-hop caches
        let before = ALLOCS.load(Ordering::Relaxed);
        for _ in 0..1000 {
            run(&mut ns);
        }
        let n = ALLOCS.load(Ordering::Relaxed) - before;
        assert_eq!(
            n, 0,
            "{host} (forwarding {fwd}): {n} allocations in 7000 decisions"
        );
    }
}
