//! Differential suite against the running kernel: random hosts are built in
//! network namespaces (fwdsim-lab), snapshotted with `fwdsim host dump DIR
//! --netns NS`, and every query is asked to both the kernel (`ip -j route
//! get`) and fwdsim (`fwdsim route get ... --host DIR -j`). All
//! disagreements are collected and printed with the host; the test fails
//! on any that `fixtures/kernel-divergences.toml` does not list.
//!
//! Needs root. Without namespaces it skips (with the reason), except under
//! `CI=true`, where it fails. Replay: `FWDSIM_SEED=<seed>` (printed);
//! `FWDSIM_HOSTS=N` changes the host count, `FWDSIM_HOST=I` runs one host,
//! `FWDSIM_BIN=PATH` tests another fwdsim binary.

use std::path::PathBuf;

use fwdsim_lab::Fwdsim;
use fwdsim_lab::harness::{self, Config, Env, Suite};

/// Random hosts per run (each: 2-5 interfaces, routes, often rules).
const HOSTS: usize = 60;
/// Input-path queries per host: 60 x 56 = 3,360 per run.
const INPUT_QUERIES: usize = 56;
/// Output-path queries per host.
const OUTPUT_QUERIES: usize = 24;

/// The binary under test (`FWDSIM_BIN` overrides it, e.g. to test another build),
/// the divergence file, and where reports go.
pub(crate) fn env() -> Env {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var_os("FWDSIM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_fwdsim")));
    Env {
        fwdsim: Fwdsim::new(bin),
        divergences_path: root.join("fixtures/kernel-divergences.toml"),
        report_dir: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-reports"),
    }
}

/// `ip route get DST [from SRC] iif DEV [tos T] [mark M]`: the input path.
#[test]
fn input_path() {
    if !harness::require_netns("kernel_route::input_path") {
        return;
    }
    let env = env();
    let cfg = Config {
        test: "kernel_route::input_path",
        suite: Suite::Input,
        hosts: HOSTS,
        input_queries: INPUT_QUERIES,
        output_queries: 0,
        stream: 1,
        fixtures: Vec::new(),
    };
    harness::run(&cfg, &env).finish(&env);
}

/// `ip route get DST [from SRC] [tos T] [mark M]` without `iif`: the output path.
#[test]
fn output_path() {
    if !harness::require_netns("kernel_route::output_path") {
        return;
    }
    let env = env();
    let cfg = Config {
        test: "kernel_route::output_path",
        suite: Suite::Output,
        hosts: HOSTS,
        input_queries: 0,
        output_queries: OUTPUT_QUERIES,
        stream: 2,
        fixtures: Vec::new(),
    };
    harness::run(&cfg, &env).finish(&env);
}
