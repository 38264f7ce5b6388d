//! Injects the packet suite's frames into random routers and prints what
//! the kernel did with each, without fwdsim:
//! `cargo run -p fwdsim-lab --example packet_probe -- [SEED] [ROUTERS] [KIND...]`
//! (only frames whose label contains one of the KIND words, when given).
//! Needs root (network namespaces, tracefs).

use std::collections::BTreeMap;

use fwdsim_lab::harness::host_seed;
use fwdsim_lab::packet::compare::{kernel_detail, kernel_view};
use fwdsim_lab::packet::frames::{catalogue, summary};
use fwdsim_lab::packet::ktrace::KfreeTrace;
use fwdsim_lab::packet::run::{BASE_NS, observe};
use fwdsim_lab::packet::{PktLab, RouterConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(1);
    let routers: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let kinds: Vec<&str> = args.iter().skip(2).map(String::as_str).collect();
    if let Err(why) = fwdsim_lab::can_make_netns() {
        eprintln!("cannot make namespaces: {why}");
        std::process::exit(1);
    }
    let mut trace = match KfreeTrace::open() {
        Ok(t) => t,
        Err(why) => {
            eprintln!("cannot trace skb:kfree_skb: {why}");
            std::process::exit(1);
        }
    };
    let start = std::time::Instant::now();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for i in 0..routers {
        let hs = host_seed(seed, 0, i);
        let cfg = RouterConfig::random(hs);
        let lab = match PktLab::build(&cfg) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("router {i}: build failed: {e}");
                continue;
            }
        };
        println!("==== router {i}\n{}", lab.describe());
        let probes = catalogue(&cfg, hs, BASE_NS);
        let (obs, late) = match observe(&lab, &probes, &mut trace) {
            Ok(o) => {
                println!("slowest group on the wire: {:?}", o.slowest_group);
                (o.obs, o.late)
            }
            Err(e) => {
                eprintln!("router {i}: {e}");
                continue;
            }
        };
        if !late.is_empty() {
            println!("LATE: {}", late.join("; "));
        }
        for (n, (p, o)) in probes.iter().zip(&obs).enumerate() {
            total += 1;
            let v = kernel_view(p, o);
            *outcomes.entry(v.word()).or_default() += 1;
            let label = p.label();
            if !kinds.is_empty() && !kinds.iter().any(|k| label.contains(k)) {
                continue;
            }
            println!("[{}] {label} | {}", n + 1, summary(&p.frame));
            println!("    {}", kernel_detail(&v, o));
        }
    }
    println!(
        "{routers} routers, {total} frames in {:.2}s",
        start.elapsed().as_secs_f64()
    );
    for (k, n) in &outcomes {
        println!("{n:6}  {k}");
    }
}
