//! The forward path with netfilter: the container's UDP flow on the Docker
//! host (docker0 -> eth0 with MASQUERADE, and its replies back), on the
//! host without rules, with Docker 28's ruleset (about 40 rules in 11
//! chains, conntrack and NAT), and with 1,000 more rules that the packets
//! walk past in FORWARD. Reports ns per packet for each in one criterion
//! group (read them as ratios to `no_rules`), and, before measuring, the
//! allocations per packet of the established flow (which must be zero).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput};
use fwdsim_kernel::core::dev::{Verdict, netif_receive_skb};
use fwdsim_kernel::trace::NoTrace;
use fwdsim_kernel::{IfIndex, Netns};

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

/// Request/reply pairs per batch.
const PAIRS: usize = 1024;

/// The Docker host of fixtures/hosts/docker-28.toml with `extra` rules
/// first in FORWARD (or without any rules).
fn host(rules: Option<usize>) -> Netns {
    let text = std::fs::read_to_string("fixtures/hosts/docker-28.toml").expect("fixture");
    let text = match rules {
        None => text[..text.find("[firewall]").expect("firewall")].to_string(),
        Some(n) => {
            let mut extra = String::new();
            for i in 0..n {
                extra += &format!(
                    "-A FORWARD -s 10.{}.{}.0/24 -p tcp -m tcp --dport {} -j DROP\n",
                    i / 256,
                    i % 256,
                    1000 + i
                );
            }
            text.replacen(
                "-A FORWARD -j DOCKER-USER\n",
                &format!("{extra}-A FORWARD -j DOCKER-USER\n"),
                1,
            )
        }
    };
    fwdsim_host::load_toml_str(&text, "docker-28.toml").expect("host")
}

fn udp(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
) -> [u8; 60] {
    let mut f = [0u8; 60];
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let c = fwdsim_kernel::ipv4::ip_hdr::ip_compute_csum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip[20..22].copy_from_slice(&sport.to_be_bytes());
    ip[22..24].copy_from_slice(&dport.to_be_bytes());
    ip[24..26].copy_from_slice(&26u16.to_be_bytes());
    // A UDP checksum of 0: none.
    f
}

struct Bench {
    ns: Netns,
    docker0: IfIndex,
    eth0: IfIndex,
    request: [u8; 60],
    reply: [u8; 60],
}

impl Bench {
    fn new(rules: Option<usize>) -> Bench {
        let ns = host(rules);
        let docker0 = ns.dev_by_name("docker0").expect("docker0").ifindex;
        let eth0 = ns.dev_by_name("eth0").expect("eth0").ifindex;
        let d0 = ns.dev(docker0).expect("docker0").dev_addr;
        let e0 = ns.dev(eth0).expect("eth0").dev_addr;
        let ctr = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
        let gw = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
        // Without rules the reply goes to the container's own address.
        let back = if rules.is_some() {
            [10, 0, 2, 15]
        } else {
            [172, 17, 0, 2]
        };
        Bench {
            ns,
            docker0,
            eth0,
            request: udp(ctr, d0, [172, 17, 0, 2], [8, 8, 8, 8], 53000, 53),
            reply: udp(gw, e0, [8, 8, 8, 8], back, 53, 53000),
        }
    }

    /// One batch of the flow both ways; returns the packets forwarded.
    fn run(&mut self) -> usize {
        let mut forwarded = 0;
        let mut buf = [0u8; 60];
        for _ in 0..PAIRS {
            buf = self.request;
            let o = netif_receive_skb(&mut self.ns, &mut buf, self.docker0, &mut NoTrace);
            forwarded += (o.verdict == Verdict::Forward) as usize;
            buf = self.reply;
            let o = netif_receive_skb(&mut self.ns, &mut buf, self.eth0, &mut NoTrace);
            forwarded += (o.verdict == Verdict::Forward) as usize;
        }
        black_box(buf);
        forwarded
    }
}

fn main() {
    let mut cases = [
        ("no_rules", Bench::new(None)),
        ("docker_28", Bench::new(Some(0))),
        ("docker_28_plus_1000", Bench::new(Some(1000))),
    ];
    for (name, b) in cases.iter_mut() {
        // The first pair makes the connection; then it is established.
        assert_eq!(b.run(), 2 * PAIRS, "{name}: every packet is forwarded");
        let before = ALLOCS.load(Ordering::Relaxed);
        b.run();
        let allocs = ALLOCS.load(Ordering::Relaxed) - before;
        println!(
            "netfilter/{name}: {} allocations per packet of an established flow ({allocs} in {} packets)",
            allocs as f64 / (2 * PAIRS) as f64,
            2 * PAIRS
        );
        assert_eq!(allocs, 0, "{name}: an established flow must not allocate");
    }
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("netfilter/forward");
    g.throughput(Throughput::Elements((2 * PAIRS) as u64));
    for (name, b) in cases.iter_mut() {
        g.bench_function(*name, |bn| bn.iter(|| black_box(b.run())));
    }
    g.finish();
    c.final_summary();
}
