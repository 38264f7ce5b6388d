//! Longest-prefix-match benchmarks: fwdsim-lpm against prefix-trie and
//! treebitmap (`ip_network_table-deps-treebitmap`, the tree bitmap behind
//! `ip_network_table`), all behind `common::LpmTable`, on a seeded BGP-like
//! table (data, sources and measured results: `benches/data/README.md`).
//!
//! Groups (one lookup per criterion iteration, so the reported time is the
//! time per lookup; consecutive lookups are independent, as in a packet
//! burst):
//! * `lookup_1m_random`, `lookup_1m_in_prefixes`: 1M-prefix table, uniform
//!   random addresses / addresses inside randomly chosen table prefixes;
//! * `lookup_max_1m_backtrack`: fwdsim-lpm's `lookup_max(addr, found_len - 1)`,
//!   the step `fib_table_lookup` takes when the longest match is unusable;
//! * `lookup_1k_random`, `lookup_1k_in_prefixes`: 1k-prefix table, with a
//!   linear scan as the baseline;
//! * `build_1m`: inserting the 1M prefixes into an empty table.
//!
//! Tables are built lazily, once per process, by the first benchmark that
//! needs them, so `cargo bench --bench fib_lookup -- --test` (and nextest,
//! which runs each benchmark in its own process) builds only what runs. Each
//! peer's answers are checked against fwdsim-lpm's when its table is built.
//!
//! Outside test mode the run starts with a memory report: each table is
//! built in a child process and the growth of its resident set is printed.

mod common;

use common::{
    ADDR_SEED, LinearScan, LpmTable, Prefix, TABLE_SEED, addrs_in_prefixes, bgp_like_table,
    random_addrs,
};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use fwdsim_lpm::Lpm;
use ip_network_table_deps_treebitmap::IpLookupTable;
use ipnet::Ipv4Net;
use prefix_trie::PrefixMap;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Prefixes in the big (full BGP) table.
const BIG: usize = 1_000_000;
/// Prefixes in the small table.
const SMALL: usize = 1_000;
/// Lookup addresses per set (a power of two, cycled through).
const ADDRS: usize = 1 << 16;
/// Environment variable that turns this binary into a memory probe.
const PROBE_ENV: &str = "FIB_LOOKUP_MEMORY_PROBE";

/// A table's prefixes and the two address sets to look up in it.
struct Data {
    table: Vec<Prefix>,
    random: Vec<u32>,
    in_prefixes: Vec<u32>,
}

impl Data {
    fn new(n: usize) -> Self {
        let started = Instant::now();
        let table = bgp_like_table(n, TABLE_SEED);
        let random = random_addrs(ADDRS, ADDR_SEED);
        let in_prefixes = addrs_in_prefixes(&table, ADDRS, ADDR_SEED + 1);
        eprintln!("generated {n} prefixes in {:.2?}", started.elapsed());
        Data {
            table,
            random,
            in_prefixes,
        }
    }
}

fn data(n: usize) -> &'static Data {
    static BIG_DATA: OnceLock<Data> = OnceLock::new();
    static SMALL_DATA: OnceLock<Data> = OnceLock::new();
    let cell = if n == BIG { &BIG_DATA } else { &SMALL_DATA };
    cell.get_or_init(|| Data::new(n))
}

/// Builds `T` over `data(n)` once, and checks its answers against
/// fwdsim-lpm's on both address sets.
fn table<T: LpmTable + Send + Sync>(cell: &'static OnceLock<T>, n: usize) -> &'static T {
    cell.get_or_init(|| {
        let d = data(n);
        let started = Instant::now();
        let t = T::build(&d.table);
        eprintln!(
            "built {} with {n} prefixes in {:.2?}",
            T::NAME,
            started.elapsed()
        );
        if T::NAME != <Lpm<u32> as LpmTable>::NAME {
            let reference = lpm(n);
            for &addr in d.random.iter().chain(&d.in_prefixes) {
                assert_eq!(
                    t.lookup(addr),
                    reference.lookup(addr).map(|(_, _, v)| *v),
                    "{} and fwdsim-lpm disagree on {}",
                    T::NAME,
                    Ipv4Addr::from(addr)
                );
            }
        }
        t
    })
}

fn lpm(n: usize) -> &'static Lpm<u32> {
    static BIG_T: OnceLock<Lpm<u32>> = OnceLock::new();
    static SMALL_T: OnceLock<Lpm<u32>> = OnceLock::new();
    table(if n == BIG { &BIG_T } else { &SMALL_T }, n)
}

fn prefix_trie(n: usize) -> &'static PrefixMap<Ipv4Net, u32> {
    static BIG_T: OnceLock<PrefixMap<Ipv4Net, u32>> = OnceLock::new();
    static SMALL_T: OnceLock<PrefixMap<Ipv4Net, u32>> = OnceLock::new();
    table(if n == BIG { &BIG_T } else { &SMALL_T }, n)
}

fn treebitmap(n: usize) -> &'static IpLookupTable<Ipv4Addr, u32> {
    static BIG_T: OnceLock<IpLookupTable<Ipv4Addr, u32>> = OnceLock::new();
    static SMALL_T: OnceLock<IpLookupTable<Ipv4Addr, u32>> = OnceLock::new();
    table(if n == BIG { &BIG_T } else { &SMALL_T }, n)
}

fn linear(n: usize) -> &'static LinearScan {
    assert_eq!(
        n, SMALL,
        "a linear scan is only benchmarked on the small table"
    );
    static SMALL_T: OnceLock<LinearScan> = OnceLock::new();
    table(&SMALL_T, n)
}

/// Which address set a group looks up.
#[derive(Clone, Copy)]
enum Traffic {
    Random,
    InPrefixes,
}

impl Traffic {
    fn addrs(self, n: usize) -> &'static [u32] {
        match self {
            Traffic::Random => &data(n).random,
            Traffic::InPrefixes => &data(n).in_prefixes,
        }
    }
}

/// One lookup per iteration, cycling through the address set.
fn bench_lookup<T: LpmTable + 'static>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    get: fn(usize) -> &'static T,
    n: usize,
    traffic: Traffic,
) {
    g.bench_function(T::NAME, |b| {
        let t = get(n);
        let addrs = traffic.addrs(n);
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & (ADDRS - 1);
            t.lookup(black_box(addrs[i]))
        })
    });
}

fn lookups(c: &mut Criterion) {
    for (n, label) in [(BIG, "1m"), (SMALL, "1k")] {
        for (traffic, name) in [
            (Traffic::Random, "random"),
            (Traffic::InPrefixes, "in_prefixes"),
        ] {
            let mut g = c.benchmark_group(format!("lookup_{label}_{name}"));
            bench_lookup(&mut g, lpm, n, traffic);
            bench_lookup(&mut g, prefix_trie, n, traffic);
            bench_lookup(&mut g, treebitmap, n, traffic);
            if n == SMALL {
                bench_lookup(&mut g, linear, n, traffic);
            }
            g.finish();
        }
    }
}

/// Backtracking: `lookup_max(addr, found_len - 1)` for addresses whose
/// longest match is not the default route, beside plain `lookup` on them.
fn lookup_max(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup_max_1m_backtrack");
    let queries = || -> Vec<(u32, u8)> {
        let t = lpm(BIG);
        data(BIG)
            .in_prefixes
            .iter()
            .filter_map(|&a| {
                t.lookup(a)
                    .and_then(|(_, len, _)| Some((a, len.checked_sub(1)?)))
            })
            .cycle()
            .take(ADDRS)
            .collect()
    };
    g.bench_function("fwdsim-lpm/lookup", |b| {
        let t = lpm(BIG);
        let q = queries();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & (ADDRS - 1);
            t.lookup(black_box(q[i].0)).map(|(_, _, v)| *v)
        })
    });
    g.bench_function("fwdsim-lpm/lookup_max", |b| {
        let t = lpm(BIG);
        let q = queries();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & (ADDRS - 1);
            let (addr, max) = black_box(q[i]);
            t.lookup_max(addr, max).map(|(_, _, v)| *v)
        })
    });
    g.finish();
}

fn bench_build<T: LpmTable>(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.bench_function(T::NAME, |b| {
        let prefixes = &data(BIG).table;
        b.iter_with_large_drop(|| T::build(black_box(prefixes)))
    });
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build_1m");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(10));
    bench_build::<Lpm<u32>>(&mut g);
    bench_build::<PrefixMap<Ipv4Net, u32>>(&mut g);
    bench_build::<IpLookupTable<Ipv4Addr, u32>>(&mut g);
    g.finish();
}

/// Resident set size of this process, from /proc (Linux only).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Child side of the memory report: build one table, print the RSS growth.
fn probe(name: &str) {
    fn measure<T: LpmTable>(prefixes: &[Prefix]) {
        let before = rss_bytes().unwrap_or(0);
        let t = black_box(T::build(prefixes));
        let after = rss_bytes().unwrap_or(0);
        println!("{}", after.saturating_sub(before));
        drop(t);
    }
    let prefixes = bgp_like_table(BIG, TABLE_SEED);
    match name {
        "fwdsim-lpm" => measure::<Lpm<u32>>(&prefixes),
        "prefix-trie" => measure::<PrefixMap<Ipv4Net, u32>>(&prefixes),
        "treebitmap" => measure::<IpLookupTable<Ipv4Addr, u32>>(&prefixes),
        _ => panic!("unknown table {name}"),
    }
}

/// Parent side: one child process per table, so that no table reuses memory
/// another one freed.
fn memory_report() {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    println!("memory for {BIG} prefixes (growth of the resident set while building):");
    for name in ["fwdsim-lpm", "prefix-trie", "treebitmap"] {
        let out = std::process::Command::new(&exe)
            .env(PROBE_ENV, name)
            .output();
        match out.ok().and_then(|o| String::from_utf8(o.stdout).ok()) {
            Some(s) => match s.trim().parse::<u64>() {
                Ok(bytes) => println!("  {name:<12} {:>7.1} MiB", bytes as f64 / (1 << 20) as f64),
                Err(_) => println!("  {name:<12} (probe failed: {s:?})"),
            },
            None => println!("  {name:<12} (probe failed)"),
        }
    }
}

fn main() {
    if let Ok(name) = std::env::var(PROBE_ENV) {
        probe(&name);
        return;
    }
    let test_mode = std::env::args().any(|a| a == "--test");
    let listing = std::env::args().any(|a| a == "--list");
    // The memory report builds every table in child processes: only in a
    // real (optimised) run, not when the tests run the benches unoptimised.
    if !test_mode && !listing && !cfg!(debug_assertions) {
        memory_report();
    }
    let mut c = Criterion::default().configure_from_args();
    lookups(&mut c);
    lookup_max(&mut c);
    build(&mut c);
    c.final_summary();
}
