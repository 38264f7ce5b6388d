//! Netfilter against the kernel (issue 7, "How it is proved"): for each of
//! [`ROUTERS`] random routers, the packet lab's three namespaces (client,
//! router, server) with a plain forwarding router, a random iptables
//! ruleset (filter with user chains, `-j`/`-g`/`RETURN`, the common
//! matches, REJECT and LOG; nat with DNAT, REDIRECT, MASQUERADE and SNAT;
//! mangle MARK; raw NOTRACK) loaded with `iptables-restore` inside the
//! router, and traffic in flows from both ends: TCP connections, UDP and
//! ICMP echo exchanges whose answers the server builds from the frame that
//! reached it (so NAT is undone, or not, by the router itself), ICMP errors
//! quoting a flow, traffic to the router, and INVALID packets
//! (`fwdsim_lab::packet::nf`). The same frames, in a pcapng whose interface
//! names are the ingress devices, go through `fwdsim replay --host SNAP -j
//! --out EGRESS --save-counters FILE`; every frame is compared on verdict,
//! drop reason, ICMP and egress bytes after NAT, the SNMP totals are
//! compared, and so is every rule's and policy's `[packets:bytes]` against
//! the kernel's `iptables-save -c` after minus before. Disagreements not
//! listed in `fixtures/kernel-divergences.toml` (suite `"netfilter"`) fail
//! the test.
//!
//! Needs root and the nf_tables backend of iptables. Without namespaces,
//! tracefs or iptables it skips (with the reason), except under `CI=true`,
//! where it fails. Replay: `FWDSIM_SEED=<seed>` (printed);
//! `FWDSIM_ROUTERS=N`, `FWDSIM_ROUTER=I`, `FWDSIM_KEEP=1`, `FWDSIM_BIN=PATH`
//! as for `kernel_packet`; `FWDSIM_NF_RULESET=FILE` loads FILE (in
//! `iptables-restore` syntax) into every router instead of the random
//! ruleset.

use fwdsim_lab::packet::nf::run;
use fwdsim_lab::packet::run::Config;

/// Random routers per run (at least 64 frames each).
const ROUTERS: usize = 25;

#[test]
fn netfilter_matches_the_kernel() {
    let test = "kernel_netfilter::netfilter_matches_the_kernel";
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut trace) = run::require(test) else {
        return;
    };
    let env = crate::kernel_route::env();
    let cfg = Config {
        test,
        routers: ROUTERS,
        stream: 7,
    };
    let report = run::run(&cfg, &env, &mut trace);
    drop(trace);
    report.finish(&env);
}
