//! Issue 8, "Capture tests": the Docker default bridge built in namespaces
//! (`fwdsim_lab::capture_lab`), the container's pings to docker0 and to
//! 8.8.8.8 captured in the host namespace as people capture them
//! (`tcpdump -i docker0` in both directions, `-Q in`, `-i any` in SLL2, on
//! the bridge port, and a pcapng of docker0 and eth0 with `epb_flags`),
//! each replayed against a `fwdsim host dump` of the host taken before
//! the traffic; the verdicts (sent, local, forward, bridged) and the SNMP
//! deltas must be the kernel's.
//!
//! Needs root and tcpdump; without namespaces it skips with the reason,
//! under `CI=true` it fails. `FWDSIM_SEED` replays a run, `FWDSIM_KEEP=1`
//! keeps the captures and the snapshot.

use fwdsim_lab::capture_lab;
use fwdsim_lab::harness::master_seed;

#[test]
fn captures_as_people_take_them_match_the_kernel() {
    let test = "kernel_capture::captures_as_people_take_them_match_the_kernel";
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
    let rep = capture_lab::run(&env.fwdsim, &toml, seed);
    eprintln!("{}", rep.render());
    assert!(!rep.failed(), "{}", rep.render());
}
