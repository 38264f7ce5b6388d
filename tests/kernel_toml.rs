//! The TOML host format against the kernel: each host (random ones and every
//! `fixtures/hosts/*.toml`) is built in a network namespace from the same
//! spec, and
//!
//! 1. `fwdsim host show --host FILE.toml -j` must hold the same routes as the
//!    kernel's `ip -j -4 route show table all` (as a set, compared on type,
//!    dst, table, dev, gateway, scope, prefsrc, protocol, metric, tos and
//!    nexthops), which checks that loading adds the kernel's own routes;
//! 2. `fwdsim route get ... --host FILE.toml -j` must agree with the kernel
//!    on input- and output-path queries.
//!
//! Same rules as `kernel_route`: root needed, skips with a reason unless
//! `CI=true`, replay with `FWDSIM_SEED`.

use std::path::PathBuf;

use fwdsim_lab::harness::{self, Config, Suite};

/// Random hosts per run (besides the fixtures).
const HOSTS: usize = 24;
/// Input-path queries per host.
const INPUT_QUERIES: usize = 24;
/// Output-path queries per host.
const OUTPUT_QUERIES: usize = 8;

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/hosts");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn toml_hosts_match_the_kernel() {
    if !harness::require_netns("kernel_toml::toml_hosts_match_the_kernel") {
        return;
    }
    let env = crate::kernel_route::env();
    let cfg = Config {
        test: "kernel_toml::toml_hosts_match_the_kernel",
        suite: Suite::Toml,
        hosts: HOSTS,
        input_queries: INPUT_QUERIES,
        output_queries: OUTPUT_QUERIES,
        stream: 3,
        fixtures: fixtures(),
    };
    harness::run(&cfg, &env).finish(&env);
}
