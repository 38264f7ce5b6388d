//! Packets through a real router against `fwdsim replay`: for each of
//! [`ROUTERS`] random routers, three namespaces (client, router, server)
//! are built as in kernel-notes.md's lab, the router is snapshotted with
//! `fwdsim host dump DIR --netns NS`, and the frames of
//! `fwdsim_lab::packet::frames` (valid traffic, malformed headers, options,
//! martians, bursts against the ICMP and redirect rate limits) are written
//! to one pcap and injected one by one from the client with an `AF_PACKET`
//! socket. For each frame the kernel's outcome is recorded: the frames that
//! reached the server, the frames that came back to the client, the
//! router's `/proc/net/snmp` and `/proc/net/netstat` deltas, and the
//! `skb:kfree_skb` reason (in a tracefs instance of the test's own). Then
//! `fwdsim replay CAPTURE --host SNAPDIR --iif r0 -j --out EGRESS.pcapng`
//! runs on the same frames and every packet is compared on verdict, drop
//! reason, ICMP type/code, egress bytes and counters
//! (`fwdsim_lab::packet::compare`). All disagreements are printed with the
//! router's configuration and the frame; the test fails on any that
//! `fixtures/kernel-divergences.toml` does not list (suite `"packet"`).
//!
//! Time: the kernel's ICMP and redirect limits run on jiffies, fwdsim's on
//! the capture's timestamps (HZ=250). Every group of frames has a source
//! address of its own (10.200.0.0/16, routed back via the client, or the
//! on-link 10.0.1.16-63 for redirects), so each group meets full per-source
//! buckets on both clocks; bursts are 1 ms apart in the capture and a
//! fraction of a millisecond apart on the wire (a router whose group took
//! over 5 jiffies is done again), and every `icmp_ratelimit` drawn is 0 or
//! at least 25 jiffies, so no burst earns a token on either clock; groups
//! are 10 ms apart in the capture and at least 1 ms apart on the wire, so
//! the netns-wide bucket (50 credits, refilled at most every 20 ms) never
//! runs dry on either. The full argument is in `fwdsim_lab::packet::frames`.
//!
//! Needs root. Without namespaces or tracefs it skips (with the reason),
//! except under `CI=true`, where it fails. Replay: `FWDSIM_SEED=<seed>`
//! (printed); `FWDSIM_ROUTERS=N` changes the router count,
//! `FWDSIM_ROUTER=I` runs one router, `FWDSIM_BIN=PATH` tests another
//! fwdsim binary.

use fwdsim_lab::packet::run::{self, Config};

/// Random routers per run (about 90 frames each).
const ROUTERS: usize = 25;

#[test]
fn packets_match_the_kernel() {
    let test = "kernel_packet::packets_match_the_kernel";
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut trace) = run::require(test) else {
        return;
    };
    let env = crate::kernel_route::env();
    let cfg = Config {
        test,
        routers: ROUTERS,
        stream: 4,
    };
    let report = run::run(&cfg, &env, &mut trace);
    drop(trace);
    report.finish(&env);
}
