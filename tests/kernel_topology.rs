//! The kernel differential suite of topologies (issue 8): [`TOPOLOGIES`]
//! random topologies of 3 to 6 namespaces (veth pairs, bridges with 1 to 4
//! ports, routers with random forwarding and rp_filter, stateless iptables
//! rules; `fwdsim_lab::topo_lab`) are built for real, dumped with
//! `fwdsim topo dump DIR --netns fws-..=n0 ...`, and [`PROBES`] packets per
//! topology (ICMP echo, UDP and TCP through real sockets of a namespace's
//! own stack) are sent and captured on every device, with the
//! `skb:kfree_skb` events and every namespace's counters.
//!
//! - `topo_dump_finds_every_link_built`: every dump holds a snapshot of
//!   every namespace and exactly the veth pairs built, loads with `fwdsim
//!   topo show`, and every probe left a trace in the kernel (a frame, a
//!   drop or a counter).
//! - `packets_through_topologies_match_the_kernel`: each probe is also run
//!   with `fwdsim send` on the dump and compared: the frames of every
//!   device (bytes, in order, with what only the kernel can choose
//!   masked), the fate and its drop reason in the namespace where it
//!   happened, the ICMP that came back, and every namespace's counters.
//!
//! Needs root; without namespaces or tracefs it skips (with the reason),
//! except under `CI=true`, where it fails. Every namespace is deleted,
//! also on failure. Replay: `FWDSIM_SEED=<seed>` (printed),
//! `FWDSIM_TOPOLOGIES=N`, `FWDSIM_BIN=PATH`.

use std::path::PathBuf;

use fwdsim_lab::harness::{host_seed, master_seed};
use fwdsim_lab::topo_lab::{self, LabTopo, TopoSpec};

/// Random topologies per run.
const TOPOLOGIES: usize = 20;
/// Probes per topology: 20 x 25 = 500 per run.
const PROBES: usize = 25;

fn count() -> usize {
    std::env::var("FWDSIM_TOPOLOGIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TOPOLOGIES)
}

fn bin() -> PathBuf {
    std::env::var_os("FWDSIM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_fwdsim")))
}

/// Builds, dumps and observes every topology; `each` judges one (its
/// spec, dump directory, probes and observations) and returns its
/// failures.
fn run(
    test: &str,
    each: impl Fn(
        &TopoSpec,
        &std::path::Path,
        &[topo_lab::Probe],
        &[topo_lab::KernelObs],
    ) -> Vec<String>,
) {
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut trace) = fwdsim_lab::packet::run::require(test) else {
        return;
    };
    let (master, _) = master_seed();
    eprintln!("{test}: seed {master} (replay: FWDSIM_SEED={master})");
    let mut failures = Vec::new();
    let (mut topologies, mut packets) = (0, 0);
    for i in 0..count() {
        let spec = TopoSpec::random(host_seed(master, 8, i));
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("topo");
        let lab = match LabTopo::build(&spec) {
            Ok(l) => l,
            Err(e) => {
                failures.push(format!("building:\n{}{e}", spec.describe()));
                continue;
            }
        };
        if let Err(e) = lab.dump(&bin(), &dir) {
            failures.push(format!("{}{e}", spec.describe()));
            continue;
        }
        let probes = spec.probes(PROBES);
        let obs = match lab.observe(&probes, &mut trace) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{}observing: {e}", spec.describe()));
                continue;
            }
        };
        drop(lab);
        let bad = each(&spec, &dir, &probes, &obs);
        if !bad.is_empty() {
            failures.push(format!("{}{}", spec.describe(), bad.join("\n")));
        }
        topologies += 1;
        packets += probes.len();
    }
    eprintln!("{test}: {topologies} topologies, {packets} packets");
    assert!(
        failures.is_empty(),
        "{test}: {} of {} topologies disagree (FWDSIM_SEED={master}):\n{}",
        failures.len(),
        count(),
        failures.join("\n\n")
    );
    assert!(topologies >= count().min(TOPOLOGIES) && packets >= topologies * PROBES);
}

#[test]
fn topo_dump_finds_every_link_built() {
    run(
        "kernel_topology::topo_dump_finds_every_link_built",
        |spec, dir, probes, obs| {
            let mut bad = topo_lab::check_dump(spec, dir);
            let o = std::process::Command::new(bin())
                .args(["topo", "show"])
                .arg(dir)
                .output()
                .expect("run fwdsim");
            if !o.status.success() {
                bad.push(format!(
                    "fwdsim topo show: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            for (p, k) in probes.iter().zip(obs) {
                if k.frames.is_empty()
                    && k.errno.is_none()
                    && k.drops.is_empty()
                    && k.counters.iter().all(|c| c.is_empty())
                {
                    bad.push(format!("{p:?}: the kernel shows no trace of it"));
                }
            }
            bad
        },
    );
}

#[test]
fn packets_through_topologies_match_the_kernel() {
    run(
        "kernel_topology::packets_through_topologies_match_the_kernel",
        |spec, dir, probes, obs| match topo_lab::compare_with_fwdsim(&bin(), dir, spec, probes, obs)
        {
            Ok(per_probe) => probes
                .iter()
                .zip(per_probe)
                .flat_map(|(p, d)| d.into_iter().map(move |d| format!("{p:?}: {d}")))
                .collect(),
            Err(e) => vec![e],
        },
    );
}

/// A namespace no name points at (a container's, found through
/// `/proc/PID/ns/net`): `topo dump` names it `pid-N`, dumps it with
/// `nsenter`, and finds its veth to a named namespace by the pair itself.
#[test]
fn topo_dump_finds_a_process_namespace_and_its_veth() {
    let test = "kernel_topology::topo_dump_finds_a_process_namespace_and_its_veth";
    if !fwdsim_lab::harness::require_netns(test) {
        return;
    }
    let lab = fwdsim_lab::Netns::new().expect("netns");
    let mut child = std::process::Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()
        .expect("unshare --net");
    // The child is in its own namespace once its ns/net differs from ours.
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    let path = format!("/proc/{}/ns/net", child.id());
    for _ in 0..200 {
        if std::fs::read_link(&path).is_ok_and(|l| l != ours) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    let r = lab.ip(&[
        "link", "add", "va", "type", "veth", "peer", "name", "vc", "netns", &pid,
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    let out = r.ok().map(|_| {
        std::process::Command::new(bin())
            .args(["topo", "dump"])
            .arg(&dir)
            .args([
                "--netns",
                &format!("pid-{pid}=ctr"),
                &format!("{}=lab", lab.name()),
            ])
            .output()
            .expect("run fwdsim")
    });
    let _ = child.kill();
    let _ = child.wait();
    let out = out.expect("a veth into the process's namespace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("ctr: process {pid}\n")), "{text}");
    assert!(
        text.contains("link ctr/vc <-> lab/va\n") || text.contains("link lab/va <-> ctr/vc\n"),
        "{text}"
    );
    assert!(dir.join("ctr/addr.json").is_file() && dir.join("ctr/link.json").is_file());
}
