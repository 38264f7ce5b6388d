//! The loops `scripts/icount.sh` counts instructions of under callgrind:
//! `icount lookup N` looks up N destinations inside a table's prefixes with
//! `Lpm::lookup`, `icount forward N` sends N UDP frames through
//! `netif_receive_skb` on a forwarding router (route decision, `ip_forward`,
//! `ip_output`, neighbour, egress frame). The table and the batch are built
//! the same way for every N, so the difference between two runs' totals
//! divided by the difference of their N is the cost of one iteration.
//! `FWDSIM_ICOUNT_PREFIXES` sets the table size (default 1,000,000).

use std::hint::black_box;
use std::net::Ipv4Addr;

use fwdsim_kernel::core::dev::{Verdict, netif_receive_skb};
use fwdsim_kernel::ipv4::ip_hdr::ip_compute_csum;
use fwdsim_kernel::trace::NoTrace;
use fwdsim_lpm::Lpm;

#[path = "../benches/common.rs"]
mod common;

/// Destinations per batch: the loop cycles through them.
const BATCH: usize = 4096;

fn prefixes() -> usize {
    std::env::var("FWDSIM_ICOUNT_PREFIXES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// A UDP frame from 10.0.1.2 to `dst`, to the router's MAC.
fn frame(mac: [u8; 6], dst: u32) -> [u8; 60] {
    let mut f = [0u8; 60];
    f[0..6].copy_from_slice(&mac);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 1, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&46u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&Ipv4Addr::new(10, 0, 1, 2).octets());
    ip[16..20].copy_from_slice(&Ipv4Addr::from(dst).octets());
    let c = ip_compute_csum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip[20..22].copy_from_slice(&4000u16.to_be_bytes());
    ip[22..24].copy_from_slice(&53u16.to_be_bytes());
    ip[24..26].copy_from_slice(&26u16.to_be_bytes());
    f
}

fn lookup(n: usize) -> usize {
    let table = common::bgp_like_table(prefixes(), common::TABLE_SEED);
    let mut lpm = Lpm::new();
    for &(a, l, v) in &table {
        lpm.insert(a, l, v);
    }
    let addrs = common::addrs_in_prefixes(&table, BATCH, common::ADDR_SEED);
    let mut found = 0;
    for i in 0..n {
        found += black_box(&lpm)
            .lookup(black_box(addrs[i % BATCH]))
            .is_some() as usize;
    }
    found
}

fn forward(n: usize) -> usize {
    let (mut ns, r0, dsts) = common::router(prefixes(), BATCH);
    let mac = ns.dev(r0).expect("r0").dev_addr;
    let batch: Vec<[u8; 60]> = dsts.iter().map(|&d| frame(mac, d)).collect();
    let mut forwarded = 0;
    for i in 0..n {
        let mut buf = batch[i % BATCH];
        let o = netif_receive_skb(&mut ns, black_box(&mut buf), r0, &mut NoTrace);
        forwarded += (o.verdict == Verdict::Forward) as usize;
    }
    forwarded
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: Option<usize> = args.get(2).and_then(|v| v.parse().ok());
    let (done, n) = match (args.get(1).map(String::as_str), n) {
        (Some("lookup"), Some(n)) => (lookup(n), n),
        (Some("forward"), Some(n)) => (forward(n), n),
        _ => {
            eprintln!("usage: icount lookup|forward N");
            std::process::exit(2);
        }
    };
    if done != n {
        eprintln!("icount: only {done} of {n} iterations found a route");
        std::process::exit(1);
    }
    println!("{done}");
}
