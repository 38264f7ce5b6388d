//! Issue 7: the Docker default bridge with Docker 28's ruleset built in
//! namespaces (`fwdsim_lab::docker`): the container's pings and DNS query
//! through MASQUERADE, seen in the host namespace on docker0 and eth0,
//! the frames the host received replayed through `fwdsim replay` on a
//! snapshot taken before the traffic; verdicts, the egress frames on eth0
//! and docker0 (byte for byte), the SNMP deltas and the iptables counters
//! must be the kernel's.
//!
//! Needs root; without namespaces it skips with the reason, under
//! `CI=true` it fails. `FWDSIM_SEED` replays a run, `FWDSIM_KEEP=1` keeps
//! the capture, snapshot and egress.

use fwdsim_lab::docker;
use fwdsim_lab::harness::master_seed;

#[test]
fn docker_default_bridge_matches_the_kernel() {
    let test = "kernel_docker::docker_default_bridge_matches_the_kernel";
    if !fwdsim_lab::nflab::require(test) {
        return;
    }
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let env = crate::kernel_route::env();
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/hosts/docker-28.toml"
    ))
    .expect("fixtures/hosts/docker-28.toml");
    let (seed, _) = master_seed();
    let rep = docker::run(&env.fwdsim, &toml, seed);
    eprintln!("{}", rep.render());
    assert!(!rep.failed(), "{}", rep.render());
}
