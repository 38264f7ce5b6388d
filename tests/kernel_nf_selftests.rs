//! The kernel's netfilter selftests (tools/testing/selftests/net/netfilter/
//! `rpath.sh`, `nft_fib.sh`, `conntrack_icmp_related.sh`, the masquerade
//! and local DNAT cases of `nft_nat.sh`) rebuilt in namespaces (`fwdsim_lab::selftests`):
//! each case checks what its script checks on the kernel, then replays the
//! frames that the namespace holding the rules received through `fwdsim
//! replay` on a snapshot of it, and compares verdicts, egress frames, SNMP
//! and iptables counters. The rules are the iptables forms of the scripts'
//! nft rules (each case's documentation gives both).
//!
//! Needs root; without namespaces it skips with the reason, under
//! `CI=true` it fails. `FWDSIM_SEED` fixes the echo identifiers,
//! `FWDSIM_KEEP=1` keeps each case's capture, snapshot and egress.

use fwdsim_lab::fwdsim::Fwdsim;
use fwdsim_lab::harness::master_seed;
use fwdsim_lab::selftests::{self, CaseReport};

fn run(test: &str, case: fn(&Fwdsim, u16) -> CaseReport) {
    if !fwdsim_lab::nflab::require(test) {
        return;
    }
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let env = crate::kernel_route::env();
    let (seed, _) = master_seed();
    let id = (seed ^ (seed >> 16) ^ (seed >> 32) ^ (seed >> 48)) as u16;
    let rep = case(&env.fwdsim, id);
    eprintln!("{}(seed {seed}: FWDSIM_SEED={seed})", rep.render());
    assert!(!rep.failed(), "{test}\n{}", rep.render());
}

#[test]
fn rpath() {
    run("kernel_nf_selftests::rpath", selftests::rpath);
}

#[test]
fn nft_fib() {
    run("kernel_nf_selftests::nft_fib", selftests::nft_fib);
}

#[test]
fn nft_fib_missing() {
    run(
        "kernel_nf_selftests::nft_fib_missing",
        selftests::nft_fib_missing,
    );
}

#[test]
fn nft_nat_masquerade() {
    run(
        "kernel_nf_selftests::nft_nat_masquerade",
        selftests::nft_nat_masquerade,
    );
}

#[test]
fn nft_nat_local_dnat() {
    run(
        "kernel_nf_selftests::nft_nat_local_dnat",
        selftests::nft_nat_local_dnat,
    );
}

#[test]
fn conntrack_icmp_related() {
    run(
        "kernel_nf_selftests::conntrack_icmp_related",
        selftests::conntrack_icmp_related,
    );
}
