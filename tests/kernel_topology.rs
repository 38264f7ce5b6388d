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

/// An ICMP redirect taken (`__ip_do_redirect`), as the kernel takes it:
/// host n1 pings 10.2.0.2 four times, 100 ms apart, through router n0,
/// which sends it back out the bridge it came from toward router n2 and
/// redirects n1 there. The first redirect finds n2's address unknown (n1
/// asks ARP for it and keeps its route); the second, once it is known,
/// makes a next-hop exception: the later pings go to n2 directly, past
/// n0's bridge device. Compared with `fwdsim send --script` as the suite
/// compares: every device's frames, the drops, the counters.
#[test]
fn a_redirect_makes_a_next_hop_exception_as_in_the_kernel() {
    let test = "kernel_topology::a_redirect_makes_a_next_hop_exception_as_in_the_kernel";
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut trace) = fwdsim_lab::packet::run::require(test) else {
        return;
    };
    let spec = TopoSpec::redirect();
    let lab = LabTopo::build(&spec).expect("build the redirect topology");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("topo");
    lab.dump(&bin(), &dir).expect("topo dump");
    let ping = topo_lab::Probe {
        from: 1,
        dst: "10.2.0.2".parse().unwrap(),
        kind: topo_lab::ProbeKind::Icmp,
    };
    let probes = [ping; 4];
    let obs = lab
        .observe_with(
            &probes,
            &mut trace,
            false,
            std::time::Duration::from_millis(100),
        )
        .expect("observe");
    drop(lab);
    // The kernel did what the scenario says: a redirect to n1 with the
    // first ping, none of the last ping's echo requests through n0's
    // bridge device.
    let is_redirect = |f: &[u8]| f.len() > 34 && f[23] == 1 && f[34] == 5;
    let is_request = |f: &[u8]| f.len() > 34 && f[23] == 1 && f[34] == 8;
    let br0 = |k: &topo_lab::KernelObs| k.frames.get("n0/br0").cloned().unwrap_or_default();
    assert!(
        br0(&obs[0]).iter().any(|c| c.sent && is_redirect(&c.frame)),
        "the kernel's n0 sent no redirect with the first ping"
    );
    assert!(
        !br0(&obs[3]).iter().any(|c| is_request(&c.frame)),
        "the kernel's n1 still sent the last ping through n0"
    );
    let per_probe =
        topo_lab::compare_with_fwdsim(&bin(), &dir, &spec, &probes, &obs).expect("fwdsim send");
    let bad: Vec<String> = per_probe
        .iter()
        .enumerate()
        .flat_map(|(i, d)| d.iter().map(move |d| format!("ping {}: {d}", i + 1)))
        .collect();
    assert!(bad.is_empty(), "{test}:\n{}", bad.join("\n"));
}

/// A bridge's FDB as the snapshot recorded it (`fdb.json`, `bridge -j -s
/// fdb show`): on n0's bridge a static entry puts a MAC behind port p2 and
/// a permanent neighbour gives 10.1.0.9 that MAC; n0's pings to 10.1.0.9
/// leave by p2 alone, where an unknown MAC would be flooded to p1 too.
/// Compared with `fwdsim send --script` on the dump: every device's frames,
/// the drops, the counters.
#[test]
fn a_static_fdb_entry_from_the_snapshot_steers_frames_as_in_the_kernel() {
    let test =
        "kernel_topology::a_static_fdb_entry_from_the_snapshot_steers_frames_as_in_the_kernel";
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut trace) = fwdsim_lab::packet::run::require(test) else {
        return;
    };
    let spec = TopoSpec::redirect();
    let lab = LabTopo::build(&spec).expect("build the topology");
    let n0 = lab.netns(0);
    let mac = "02:00:00:00:99:99";
    n0.exec(&["bridge", "fdb", "add", mac, "dev", "p2", "master", "static"])
        .expect("bridge fdb add");
    n0.ip(&[
        "neigh",
        "add",
        "10.1.0.9",
        "lladdr",
        mac,
        "dev",
        "br0",
        "nud",
        "permanent",
    ])
    .expect("ip neigh add");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("topo");
    lab.dump(&bin(), &dir).expect("topo dump");
    let fdb = std::fs::read_to_string(dir.join("n0/fdb.json")).expect("n0/fdb.json");
    assert!(fdb.contains(mac), "{fdb}");
    let ping = topo_lab::Probe {
        from: 0,
        dst: "10.1.0.9".parse().unwrap(),
        kind: topo_lab::ProbeKind::Icmp,
    };
    let probes = [ping; 2];
    let obs = lab
        .observe_with(&probes, &mut trace, false, std::time::Duration::ZERO)
        .expect("observe");
    drop(lab);
    // The kernel sent the pings out of p2 only.
    for k in &obs {
        assert!(k.frames.contains_key("n0/p2") && !k.frames.contains_key("n0/p1"));
    }
    let per_probe =
        topo_lab::compare_with_fwdsim(&bin(), &dir, &spec, &probes, &obs).expect("fwdsim send");
    let bad: Vec<String> = per_probe
        .iter()
        .enumerate()
        .flat_map(|(i, d)| d.iter().map(move |d| format!("ping {}: {d}", i + 1)))
        .collect();
    assert!(bad.is_empty(), "{test}:\n{}", bad.join("\n"));
}
