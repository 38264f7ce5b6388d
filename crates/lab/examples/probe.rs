//! Builds random lab hosts and prints what the kernel answers, without
//! fwdsim: `cargo run -p fwdsim-lab --example probe -- [SEED] [HOSTS] [-v]`.
//! Needs root (network namespaces).

use std::collections::BTreeMap;

use fwdsim_lab::generate::{queries, random_host};
use fwdsim_lab::harness::host_seed;
use fwdsim_lab::{Answer, LabHost};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(1);
    let hosts: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let verbose = args.iter().any(|a| a == "-v");
    if let Err(why) = fwdsim_lab::can_make_netns() {
        eprintln!("cannot make namespaces: {why}");
        std::process::exit(1);
    }
    let start = std::time::Instant::now();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut dropped: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for i in 0..hosts {
        let hs = host_seed(seed, 0, i);
        let spec = random_host(hs);
        let lab = match LabHost::build(&spec) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("host {i}: build failed: {e}");
                continue;
            }
        };
        for d in &lab.dropped {
            *dropped
                .entry(format!("{}: {}", d.kind, d.error))
                .or_default() += 1;
        }
        let mut qs = queries(&lab.spec, hs, 56, true);
        qs.extend(queries(&lab.spec, hs ^ 1, 20, false));
        let answers = lab.ask(&qs).expect("kernel answers");
        if verbose {
            println!("==== host {i}\n{}", lab.describe());
        }
        for (q, a) in qs.iter().zip(&answers) {
            total += 1;
            let path = if q.iif.is_some() { "in" } else { "out" };
            let word = match a {
                Answer::Ok(r) => format!("{path} {} cache{:?}", r.rtype, r.cache),
                Answer::Err(e) => {
                    format!("{path} {}", e.errno.clone().unwrap_or(e.message.clone()))
                }
            };
            *outcomes.entry(word).or_default() += 1;
            if verbose {
                println!("{q}  =>  {a}");
            }
        }
    }
    println!(
        "{hosts} hosts, {total} queries in {:.2}s",
        start.elapsed().as_secs_f64()
    );
    println!("-- kernel outcomes");
    for (k, n) in &outcomes {
        println!("{n:6}  {k}");
    }
    println!("-- dropped while building");
    for (k, n) in &dropped {
        println!("{n:6}  {k}");
    }
}
