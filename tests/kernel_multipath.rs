//! The multipath hash against the kernel: a router namespace with a
//! weighted four-way multipath route and a fixed `fib_multipath_hash_seed`,
//! for `fib_multipath_hash_policy` 0 (addresses), 1 (the five-tuple) and 2
//! (outer addresses), asked `ip route get DST from SRC iif r0 ipproto P
//! sport S dport D` (the input path, on the kernel's dummy packet) and the
//! same without `iif` (the output path, from the flow's keys) for seeded
//! random flows; `fwdsim route get` on a `fwdsim host dump` of the
//! namespace must choose the same gateway every time.
//!
//! Needs root; without namespaces it skips with the reason, except under
//! `CI=true`, where it fails. `FWDSIM_SEED` replays a run.

use std::process::Command;

use fwdsim_lab::netns::Netns;
use rand::{Rng, SeedableRng};

fn gateway(out: &str) -> Option<String> {
    let first = out.lines().next()?;
    let mut w = first.split_whitespace();
    while let Some(x) = w.next() {
        if x == "via" {
            return w.next().map(str::to_string);
        }
    }
    None
}

#[test]
fn multipath_hash_policies_choose_the_kernels_path() {
    let test = "kernel_multipath::multipath_hash_policies_choose_the_kernels_path";
    if !fwdsim_lab::harness::require_netns(test) {
        return;
    }
    let seed: u64 = std::env::var("FWDSIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("{test}: seed {seed} (FWDSIM_SEED={seed} replays)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let bin = env!("CARGO_BIN_EXE_fwdsim");
    let mut checked = 0;
    let mut bad = Vec::new();
    for policy in [0, 1, 2] {
        let r = Netns::new().expect("router namespace");
        let p = Netns::new().expect("peer namespace");
        let ip =
            |ns: &Netns, args: &[&str]| ns.ip(args).unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
        for (a, b) in [("r0", "p0"), ("r1", "p1")] {
            ip(
                &r,
                &[
                    "link",
                    "add",
                    a,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    b,
                    "netns",
                    p.name(),
                ],
            );
            ip(&r, &["link", "set", a, "up"]);
            ip(&p, &["link", "set", b, "up"]);
        }
        ip(&r, &["addr", "add", "10.0.1.1/24", "dev", "r0"]);
        ip(&r, &["addr", "add", "10.0.2.1/24", "dev", "r1"]);
        let hash_seed = rng.gen_range(1..u32::MAX).to_string();
        for (k, v) in [
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.fib_multipath_hash_seed", hash_seed.as_str()),
            ("net.ipv4.fib_multipath_hash_policy", &policy.to_string()),
        ] {
            r.exec(&["sysctl", "-qw", &format!("{k}={v}")])
                .expect("sysctl");
        }
        let w: Vec<String> = (0..4).map(|_| rng.gen_range(1..5).to_string()).collect();
        ip(
            &r,
            &[
                "route",
                "add",
                "192.0.2.0/24",
                "nexthop",
                "via",
                "10.0.2.2",
                "dev",
                "r1",
                "weight",
                &w[0],
                "nexthop",
                "via",
                "10.0.2.3",
                "dev",
                "r1",
                "weight",
                &w[1],
                "nexthop",
                "via",
                "10.0.2.4",
                "dev",
                "r1",
                "weight",
                &w[2],
                "nexthop",
                "via",
                "10.0.1.5",
                "dev",
                "r0",
                "weight",
                &w[3],
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let snap = dir.path().join("router");
        let o = Command::new(bin)
            .args(["host", "dump", snap.to_str().unwrap(), "--netns", r.name()])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "host dump: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for _ in 0..60 {
            let dst = format!("192.0.2.{}", rng.gen_range(1..255));
            let src = format!("10.0.1.{}", rng.gen_range(10..250));
            let proto = ["udp", "tcp"][rng.gen_range(0..2)];
            let (sp, dp) = (
                rng.gen_range(1..65535u32).to_string(),
                rng.gen_range(1..65535u32).to_string(),
            );
            let input = vec![
                dst.as_str(),
                "from",
                src.as_str(),
                "iif",
                "r0",
                "ipproto",
                proto,
                "sport",
                &sp,
                "dport",
                &dp,
            ];
            let output = vec![dst.as_str(), "ipproto", proto, "sport", &sp, "dport", &dp];
            for q in [input, output] {
                let mut args = vec!["route", "get"];
                args.extend(&q);
                let k = ip(&r, &args);
                let f = Command::new(bin)
                    .arg("route")
                    .arg("get")
                    .args(&q)
                    .args(["--host", snap.to_str().unwrap()])
                    .output()
                    .unwrap();
                let f = String::from_utf8_lossy(&f.stdout).into_owned();
                checked += 1;
                if gateway(&k) != gateway(&f) {
                    bad.push(format!(
                        "policy {policy}, weights {w:?}: route get {}: kernel {:?}, fwdsim {:?}",
                        q.join(" "),
                        gateway(&k),
                        gateway(&f)
                    ));
                }
            }
        }
    }
    eprintln!("{test}: {checked} queries, {} disagree", bad.len());
    assert!(checked >= 300, "only {checked} queries");
    assert!(bad.is_empty(), "seed {seed}:\n{}", bad.join("\n"));
}
