//! The packet suite's runs (`tests/kernel_packet.rs`): for each random
//! router, build the lab, snapshot the router with `fwdsim host dump`,
//! write the frames to a pcap, inject them one by one and record what the
//! kernel did, run `fwdsim replay` on the pcap and the snapshot, compare,
//! and report every disagreement with the router's configuration and the
//! frame.
//!
//! Seeds as in [`crate::harness`]: `FWDSIM_SEED` (decimal or `0x` hex) or
//! the clock, printed with a replay line. `FWDSIM_ROUTERS=N` changes the
//! number of routers, `FWDSIM_ROUTER=I` runs router I alone, `FWDSIM_KEEP=1`
//! keeps each router's capture, snapshot and egress pcapng (the paths are
//! in the report) for `fwdsim trace`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::divergence::{Case, Divergences};
use crate::harness::{Env, host_seed, master_seed, require_netns};
use crate::packet::capture::write_pcap;
use crate::packet::compare::{self, KernelView, PacketDisagreement};
use crate::packet::config::RouterConfig;
use crate::packet::frames::{self, Probe};
use crate::packet::ktrace::KfreeTrace;
use crate::packet::lab::PktLab;
use crate::packet::replay;
use crate::packet::snmp::{self, Counters};
use crate::packet::wire::{Endpoints, KernelObs};

/// The suite name in divergence matchers.
pub const SUITE: &str = "packet";

/// Capture time of the first frame of router 0 (2023-11-14); each router
/// starts an hour later than the one before.
pub const BASE_NS: i128 = 1_700_000_000_000_000_000;

/// The pause between two groups of frames on the wire: at most one group
/// (a few ICMP errors) per millisecond, so the netns-wide ICMP bucket
/// (50 credits, each error taking 0 to 2 at random, refilled at most every
/// 20 ms) is never emptied.
pub const GROUP_PAUSE: Duration = Duration::from_millis(1);

/// The longest a group of frames may take on the wire: 5 jiffies, half the
/// shortest time limit a group can meet (the second redirect after
/// 10 jiffies; every `icmp_ratelimit` drawn is 0 or at least 25 jiffies).
/// The capture spaces a group's frames 1 ms apart.
pub const GROUP_BUDGET: Duration = Duration::from_millis(20);

/// Attempts per router while a group overruns [`GROUP_BUDGET`] (the test
/// thread was descheduled mid-burst).
pub const ATTEMPTS: usize = 3;

/// How long the lab waits after a router's last frame for late effects.
pub const SETTLE: Duration = Duration::from_millis(30);

/// What a run does.
#[derive(Clone, Debug)]
pub struct Config {
    /// The test's name, for the replay line.
    pub test: &'static str,
    /// Random routers (`FWDSIM_ROUTERS` overrides).
    pub routers: usize,
    /// Mixed into the router seeds.
    pub stream: u64,
}

/// Everything about one router.
#[derive(Clone, Debug, Default)]
pub struct RouterReport {
    /// `router 3 (seed 0x..)`.
    pub label: String,
    /// Its index, for `FWDSIM_ROUTER`.
    pub index: usize,
    /// Configuration and namespaces.
    pub description: String,
    /// Failures that are not per packet; each fails the run.
    pub problems: Vec<String>,
    /// Things worth knowing that do not fail the run.
    pub notes: Vec<String>,
    /// Frames injected.
    pub frames: usize,
    /// The disagreements.
    pub disagreements: Vec<PacketDisagreement>,
    /// Kernel outcome counts.
    pub kernel_outcomes: BTreeMap<String, usize>,
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The test.
    pub test: &'static str,
    /// Master seed.
    pub seed: u64,
    /// Whether it came from `FWDSIM_SEED`.
    pub seed_from_env: bool,
    /// Routers in order.
    pub routers: Vec<RouterReport>,
    /// Wall time.
    pub elapsed: Duration,
    /// A malformed divergence file.
    pub divergence_error: Option<String>,
    /// Use count of each divergence entry.
    pub divergence_uses: Vec<(String, usize)>,
}

/// Whether the suite can run: namespaces ([`require_netns`]) and the
/// tracefs instance ([`KfreeTrace::open`]). Without them it panics under
/// `CI=true`, and otherwise prints why it skips and returns `None`.
pub fn require(test: &str) -> Option<KfreeTrace> {
    if !require_netns(test) {
        return None;
    }
    match KfreeTrace::open() {
        Ok(t) => Some(t),
        Err(why) => {
            if crate::harness::is_ci() {
                panic!("{test}: CI is set but the skb:kfree_skb tracepoint cannot be used: {why}");
            }
            eprintln!(
                "{test}: SKIPPED: the skb:kfree_skb tracepoint cannot be used here: {why} (run as root; with CI set this fails)"
            );
            None
        }
    }
}

fn env_usize(k: &str) -> Option<usize> {
    std::env::var(k).ok().and_then(|v| v.trim().parse().ok())
}

/// What the kernel did with one router's frames.
#[derive(Clone, Debug)]
pub struct Observed {
    /// Per frame, in order.
    pub obs: Vec<KernelObs>,
    /// Late effects after the last frame ([`Endpoints::settle`]).
    pub late: Vec<String>,
    /// The longest a group of frames took on the wire, first send to last.
    pub slowest_group: Duration,
}

/// The kernel's side of one router: every frame injected in order, groups
/// [`GROUP_PAUSE`] apart.
pub fn observe(
    lab: &PktLab,
    probes: &[Probe],
    trace: &mut KfreeTrace,
) -> std::result::Result<Observed, String> {
    let mut ep = Endpoints::open(lab).map_err(|e| format!("opening the lab's sockets: {e}"))?;
    // Whatever is there before the first frame belongs to no frame.
    let _ = trace.drain();
    ep.drain_client().map_err(|e| e.to_string())?;
    ep.drain_server().map_err(|e| e.to_string())?;
    let mut before = ep.counters().map_err(|e| e.to_string())?;
    let mut raw = Vec::with_capacity(probes.len());
    let mut slowest_group = Duration::ZERO;
    let mut group_start = Instant::now();
    for (i, p) in probes.iter().enumerate() {
        if i > 0 && p.group != probes[i - 1].group {
            std::thread::sleep(GROUP_PAUSE);
            group_start = Instant::now();
        }
        raw.push(
            ep.inject(&p.frame, trace)
                .map_err(|e| format!("injecting frame {} ({}): {e}", i + 1, p.label()))?,
        );
        slowest_group = slowest_group.max(group_start.elapsed());
    }
    let mut obs = Vec::with_capacity(raw.len());
    for r in raw {
        let (o, after) = r.finish(&before);
        obs.push(o);
        before = after;
    }
    let late = ep
        .settle(SETTLE, trace)
        .map_err(|e| format!("after the last frame: {e}"))?;
    Ok(Observed {
        obs,
        late,
        slowest_group,
    })
}

/// The router's counters read with `ip netns exec NS cat /proc/net/snmp`
/// (and `netstat`).
fn proc_counters(lab: &PktLab) -> std::result::Result<Counters, String> {
    let mut text = String::new();
    for f in ["/proc/net/snmp", "/proc/net/netstat"] {
        text.push_str(&lab.router.read_proc(f).map_err(|e| e.to_string())?);
    }
    Ok(snmp::parse_proc(&text))
}

/// Builds the lab for `cfg`, snapshots the router into `snap` and injects
/// `probes`; again (at most [`ATTEMPTS`] times in all) while a group took
/// longer than [`GROUP_BUDGET`] on the wire. Returns the observations and
/// the lab's description; notes go to `rep`.
fn kernel_side(
    env: &Env,
    cfg: &RouterConfig,
    probes: &[Probe],
    snap: &Path,
    trace: &mut KfreeTrace,
    rep: &mut RouterReport,
) -> std::result::Result<Vec<KernelObs>, String> {
    for attempt in 1..=ATTEMPTS {
        let lab = PktLab::build(cfg).map_err(|e| format!("building the lab failed: {e}"))?;
        rep.description = lab.describe();
        let _ = std::fs::remove_dir_all(snap);
        std::fs::create_dir(snap).map_err(|e| format!("{}: {e}", snap.display()))?;
        if let Err(e) = env.fwdsim.host_dump(snap, lab.router.name()) {
            rep.problems.push(format!(
                "{e} (the replay below ran on the lab's own snapshot made with the same commands)"
            ));
            crate::build::snapshot(lab.router.name(), snap)
                .map_err(|e| format!("the lab's own snapshot failed too: {e}"))?;
        }
        let before = proc_counters(&lab)?;
        let o = observe(&lab, probes, trace)?;
        // The per-frame deltas (read through file descriptors opened in the
        // router's namespace) must add up to what `ip netns exec` sees.
        let total = snmp::delta(&before, &proc_counters(&lab)?);
        let mut sum = Counters::new();
        for x in &o.obs {
            snmp::add(&mut sum, &x.snmp);
        }
        let off = snmp::differences(&total, &sum);
        if !off.is_empty() {
            rep.problems.push(format!(
                "the per-frame counter deltas do not add up to the router's own before/after (ip netns exec): {off:?}"
            ));
        }
        if !o.late.is_empty() {
            rep.problems.push(format!(
                "late effects after the last frame (the per-frame observations may be incomplete): {}",
                o.late.join("; ")
            ));
        }
        if o.slowest_group <= GROUP_BUDGET {
            return Ok(o.obs);
        }
        let msg = format!(
            "attempt {attempt}: a group of frames took {:?} on the wire (budget {GROUP_BUDGET:?}): the kernel's rate limits may have seen time the capture does not show",
            o.slowest_group
        );
        if attempt == ATTEMPTS {
            rep.problems.push(msg);
            return Ok(o.obs);
        }
        rep.notes.push(msg);
    }
    unreachable!("the last attempt returns")
}

/// Runs one router and returns its report.
fn run_router(env: &Env, index: usize, seed: u64, trace: &mut KfreeTrace) -> RouterReport {
    let cfg = RouterConfig::random(seed);
    let mut rep = RouterReport {
        label: format!("router {index} (seed {seed:#x})"),
        index,
        description: cfg.describe(),
        ..RouterReport::default()
    };
    let probes = frames::catalogue(
        &cfg,
        seed ^ 0x6672_616d_6573,
        BASE_NS + index as i128 * 3_600_000_000_000,
    );
    rep.frames = probes.len();
    let dir = match tempfile::Builder::new().prefix("fwdsim-lab-pkt-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            rep.problems
                .push(format!("cannot make a temporary directory: {e}"));
            return rep;
        }
    };
    let snap = dir.path().join("router");
    let cap = dir.path().join("capture.pcap");
    if let Err(e) = write_pcap(&cap, &probes) {
        rep.problems.push(e.to_string());
        return rep;
    }
    let obs = match kernel_side(env, &cfg, &probes, &snap, trace, &mut rep) {
        Ok(o) => o,
        Err(e) => {
            rep.problems.push(e);
            return rep;
        }
    };
    let views: Vec<KernelView> = probes
        .iter()
        .zip(&obs)
        .map(|(p, o)| compare::kernel_view(p, o))
        .collect();
    rep.kernel_outcomes = compare::tally(&views);
    compare_router(env, &probes, &obs, &cap, &snap, dir.path(), &mut rep);
    if std::env::var_os("FWDSIM_KEEP").is_some() {
        let kept = dir.keep();
        rep.description.push_str(&format!(
            "  kept (FWDSIM_KEEP): capture {0}/capture.pcap, snapshot {0}/router, egress {0}/egress.pcapng\n",
            kept.display()
        ));
    }
    rep
}

/// `ip_error`'s per-source bucket and `icmpv4_xrlim_allow` share one
/// `inet_peer`'s `rate_tokens`. When a jiffy ticks between the two while the
/// kernel handles one frame, the ICMP limit caps the tokens to six times
/// `icmp_ratelimit` (0 when it is 0), and the following frames of the burst
/// find `ip_error`'s bucket empty. Where the tick falls on the kernel's clock
/// is not in the capture, so a burst frame after the first that the kernel
/// dropped the same way without an ICMP error, where fwdsim sent one, is
/// tolerated and noted.
fn peer_token_race(
    p: &Probe,
    o: &KernelObs,
    out: &replay::PacketOut,
    d: &PacketDisagreement,
) -> bool {
    p.kind == "reject-route-burst"
        && p.nth.0 > 1
        && o.to_client.is_empty()
        && matches!(out.icmp, Some((3, _)))
        && d.kernel_word == d.fwdsim_word
        && d.diffs
            .iter()
            .all(|f| f.field == "icmp" || f.field == "egress")
}

/// Whether a counter disagreement's query names a counter that sending one
/// ICMP error moves.
fn is_icmp_send_counter(query: &str) -> bool {
    [
        "Icmp.OutDestUnreachs",
        "Icmp.OutMsgs",
        "IcmpMsg.OutType3",
        "Ip.OutRequests",
        "Ip.OutTransmits",
        "IpExt.OutOctets",
    ]
    .iter()
    .any(|c| query.contains(&format!("| counter {c} |")))
}

/// Replays the capture and compares it with the kernel's observations.
fn compare_router(
    env: &Env,
    probes: &[Probe],
    obs: &[KernelObs],
    cap: &Path,
    snap: &Path,
    dir: &Path,
    rep: &mut RouterReport,
) {
    let run = match replay::replay(&env.fwdsim.bin, cap, snap, dir, probes.len()) {
        Ok(r) => r,
        Err(e) => {
            rep.problems.push(e);
            return;
        }
    };
    let mut raced = Vec::new();
    for (i, ((p, o), out)) in probes.iter().zip(obs).zip(&run.packets).enumerate() {
        let eg: Vec<_> = run
            .egress
            .iter()
            .filter(|e| e.ts_nanos == p.ts_nanos)
            .collect();
        if let Some(d) = compare::compare_packet(i + 1, p, o, out, &eg) {
            if peer_token_race(p, o, out, &d) {
                raced.push(i + 1);
            } else {
                rep.disagreements.push(d);
            }
        }
    }
    if !raced.is_empty() {
        rep.notes.push(format!(
            "frame(s) {raced:?}: the kernel sent no ICMP error where fwdsim did, later in a reject-route burst (the inet_peer token race, tolerated)"
        ));
    }
    let stray = run
        .egress
        .iter()
        .filter(|e| !probes.iter().any(|p| p.ts_nanos == e.ts_nanos))
        .count();
    if stray > 0 {
        rep.problems.push(format!(
            "{stray} egress frame(s) in fwdsim's pcapng carry no input packet's timestamp"
        ));
    }
    // Counters: the totals first; per packet (prefix replays) only when
    // they differ.
    let mut kernel_total = Counters::new();
    for o in obs {
        snmp::add(&mut kernel_total, &snmp::compared(&o.snmp));
    }
    let fwdsim_total = snmp::compared(&run.snmp);
    if snmp::differences(&kernel_total, &fwdsim_total).is_empty() {
        return;
    }
    let ks: Vec<usize> = (1..=probes.len()).collect();
    match replay::prefix_counters(&env.fwdsim.bin, probes, snap, dir, &ks) {
        Ok(prefixes) => {
            let mut prev = Counters::new();
            for (i, cum) in prefixes.iter().enumerate() {
                let cum = snmp::compared(cum);
                let fwdsim_delta = snmp::delta(&prev, &cum);
                let kernel_delta = snmp::compared(&obs[i].snmp);
                rep.disagreements.extend(
                    compare::compare_counters(
                        i + 1,
                        Some(&probes[i]),
                        &kernel_delta,
                        &fwdsim_delta,
                    )
                    .into_iter()
                    .filter(|d| !(raced.contains(&d.index) && is_icmp_send_counter(&d.query))),
                );
                prev = cum;
            }
        }
        Err(e) => {
            rep.problems
                .push(format!("per-packet counters could not be had: {e}"));
            rep.disagreements.extend(compare::compare_counters(
                0,
                None,
                &kernel_total,
                &fwdsim_total,
            ));
        }
    }
}

/// Runs `cfg` and returns the report (see [`Report::finish`]).
pub fn run(cfg: &Config, env: &Env, trace: &mut KfreeTrace) -> Report {
    let start = Instant::now();
    let (seed, seed_from_env) = master_seed();
    let (divergences, divergence_error) = match Divergences::load(&env.divergences_path) {
        Ok(d) => (d, None),
        Err(e) => (Divergences::default(), Some(e.to_string())),
    };
    let routers = env_usize("FWDSIM_ROUTERS").unwrap_or(cfg.routers);
    let only = env_usize("FWDSIM_ROUTER");
    let mut reports = Vec::new();
    for i in 0..routers {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        reports.push(run_router(env, i, host_seed(seed, cfg.stream, i), trace));
    }
    Report::assemble(
        cfg.test,
        SUITE,
        (seed, seed_from_env),
        reports,
        start,
        &divergences,
        divergence_error,
    )
}

/// `k n, k n, ...`.
fn join<K: std::fmt::Display>(m: &BTreeMap<K, usize>) -> String {
    m.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Report {
    /// The report of a run: each disagreement matched against the
    /// divergence file of `suite` (what is listed, and how often each entry
    /// was used).
    pub fn assemble(
        test: &'static str,
        suite: &str,
        (seed, seed_from_env): (u64, bool),
        mut reports: Vec<RouterReport>,
        start: Instant,
        divergences: &Divergences,
        divergence_error: Option<String>,
    ) -> Report {
        let mut uses = vec![0usize; divergences.divergence.len()];
        for rep in &mut reports {
            let host = rep.description.clone();
            for d in &mut rep.disagreements {
                let case = Case {
                    suite,
                    fields: d.diffs.iter().map(|f| f.field.as_str()).collect(),
                    query: &d.query,
                    dst: d.dst,
                    src: d.src,
                    kernel: &d.kernel_word,
                    fwdsim: &d.fwdsim_word,
                    host: &host,
                };
                if let Some((i, div)) = divergences.find(&case) {
                    uses[i] += 1;
                    d.listed = Some(div.description.clone());
                }
            }
        }
        Report {
            test,
            seed,
            seed_from_env,
            routers: reports,
            elapsed: start.elapsed(),
            divergence_error,
            divergence_uses: divergences
                .divergence
                .iter()
                .map(|d| d.description.clone())
                .zip(uses)
                .collect(),
        }
    }

    /// Disagreements not listed in the divergence file.
    pub fn unlisted(&self) -> usize {
        self.routers
            .iter()
            .flat_map(|r| &r.disagreements)
            .filter(|d| d.listed.is_none())
            .count()
    }

    /// Router-level problems.
    pub fn problems(&self) -> usize {
        self.routers.iter().map(|r| r.problems.len()).sum()
    }

    /// Frames injected in all.
    pub fn frames(&self) -> usize {
        self.routers.iter().map(|r| r.frames).sum()
    }

    /// Whether the run fails.
    pub fn failed(&self) -> bool {
        // A run that compared no frame proves nothing.
        self.unlisted() > 0
            || self.problems() > 0
            || self.divergence_error.is_some()
            || self.frames() == 0
    }

    /// The replay line.
    pub fn replay(&self) -> String {
        format!(
            "replay: FWDSIM_SEED={} cargo test --test integration {} -- --nocapture   (one router: add FWDSIM_ROUTER=<index>)",
            self.seed, self.test
        )
    }

    /// The summary block.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let total: usize = self.routers.iter().map(|r| r.disagreements.len()).sum();
        let _ = writeln!(
            s,
            "==== {}: {} routers, {} frames, {} disagreements ({} not listed), {} router problems, {:.1}s",
            self.test,
            self.routers.len(),
            self.frames(),
            total,
            self.unlisted(),
            self.problems(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "seed {} ({})",
            self.seed,
            if self.seed_from_env {
                "from FWDSIM_SEED"
            } else {
                "from the clock"
            }
        );
        let mut by_field: BTreeMap<&str, usize> = BTreeMap::new();
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.routers {
            for d in &r.disagreements {
                for f in &d.diffs {
                    *by_field.entry(f.field.as_str()).or_default() += 1;
                }
                let kind = d.label.split(' ').next().unwrap_or("").to_string();
                *by_kind.entry(kind).or_default() += 1;
            }
            for (k, n) in &r.kernel_outcomes {
                *outcomes.entry(k.as_str()).or_default() += n;
            }
        }
        if !by_field.is_empty() {
            let _ = writeln!(s, "differing fields: {}", join(&by_field));
            let _ = writeln!(s, "by frame kind: {}", join(&by_kind));
        }
        let _ = writeln!(s, "kernel outcomes: {}", join(&outcomes));
        if let Some(e) = &self.divergence_error {
            let _ = writeln!(s, "divergence file: {e}");
        }
        for (d, n) in &self.divergence_uses {
            if *n > 0 {
                let _ = writeln!(s, "divergence {d:?}: matched {n}");
            }
        }
        let _ = writeln!(s, "{}", self.replay());
        s
    }

    /// The full report: each router with a problem or a disagreement (its
    /// configuration, then each packet with both sides), then the summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for r in &self.routers {
            if r.problems.is_empty() && r.disagreements.is_empty() && r.notes.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "==== {} [{}]: {} frames, {} disagreements, {} problems",
                r.label,
                self.test,
                r.frames,
                r.disagreements.len(),
                r.problems.len()
            );
            s.push_str(&r.description);
            for p in &r.problems {
                let _ = writeln!(s, "PROBLEM: {p}");
            }
            for n in &r.notes {
                let _ = writeln!(s, "note: {n}");
            }
            for d in &r.disagreements {
                let _ = writeln!(s, "[packet {}] {}", d.index, d.query);
                if !d.frame_hex.is_empty() {
                    let _ = writeln!(s, "    frame:  {}", d.frame_hex);
                }
                let _ = writeln!(s, "    kernel: {}", d.kernel_detail);
                let _ = writeln!(s, "    fwdsim: {}", d.fwdsim_detail);
                let f: Vec<String> = d
                    .diffs
                    .iter()
                    .map(|f| format!("{} (kernel {} / fwdsim {})", f.field, f.kernel, f.fwdsim))
                    .collect();
                let _ = writeln!(s, "    differ: {}", f.join(", "));
                if let Some(l) = &d.listed {
                    let _ = writeln!(s, "    listed in kernel-divergences.toml: {l}");
                }
            }
            let _ = writeln!(
                s,
                "(this router alone: FWDSIM_SEED={} FWDSIM_ROUTER={})\n",
                self.seed, r.index
            );
        }
        s.push_str(&self.summary());
        s
    }

    /// Prints the report (and writes it to `env.report_dir`), then panics
    /// if the run failed.
    pub fn finish(&self, env: &Env) {
        let text = self.render();
        let file = env
            .report_dir
            .join(format!("{}.txt", self.test.replace("::", "-")));
        let written = std::fs::create_dir_all(&env.report_dir)
            .and_then(|()| std::fs::write(&file, &text))
            .is_ok();
        eprintln!("{text}");
        if written {
            eprintln!("full report: {}", file.display());
        }
        if self.failed() {
            panic!(
                "{}: {} frames, {} disagreements not listed in {}, {} router problems{}\n{}",
                self.test,
                self.frames(),
                self.unlisted(),
                env.divergences_path.display(),
                self.problems(),
                self.divergence_error
                    .as_ref()
                    .map(|e| format!(", divergence file error: {e}"))
                    .unwrap_or_default(),
                self.replay()
            );
        }
    }
}
