//! The netfilter suite's runs (`tests/kernel_netfilter.rs`). For each
//! random router: build the packet lab with [`RouterConfig::netfilter`],
//! load a random ruleset ([`ruleset::random`]) with `iptables-restore`
//! inside the router's namespace, snapshot it (`fwdsim host dump`, and the
//! router's `iptables-save` as `iptables.txt` where the dump wrote none),
//! read `iptables-save -c`, run the flows ([`flows`]) frame by frame from
//! both ends, read `iptables-save -c` again, write the injected frames to a
//! pcapng whose interfaces are `r0` and `r1` (the device each frame entered
//! by), run `fwdsim replay CAPTURE --host SNAP -j --out EGRESS
//! --save-counters FILE` and compare per frame (verdict, drop reason,
//! ICMP, egress bytes after NAT), the SNMP totals (on a difference, the
//! first frame where the running totals part, by bisection over prefix
//! replays), and every rule's and policy's packet and byte counter.
//!
//! Seeds as in [`crate::packet::run`]: `FWDSIM_SEED`, `FWDSIM_ROUTERS`,
//! `FWDSIM_ROUTER`, `FWDSIM_KEEP`; and `FWDSIM_NF_RULESET=FILE` loads that
//! `iptables-restore` file into every router instead of the random ruleset
//! (the flows stay those of the seed): a disagreement made small.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::answer::FieldDiff;
use crate::divergence::Divergences;
use crate::harness::{Env, host_seed, master_seed};
use crate::netns::{run_checked, run_program};
use crate::packet::compare::{self, KernelView, PacketDisagreement, compare_frames_by, icmp_error};
use crate::packet::config::RouterConfig;
use crate::packet::frames::{IP, hex};
use crate::packet::ktrace::KfreeTrace;
use crate::packet::lab::PktLab;
use crate::packet::nf::counters::{self, Saved};
use crate::packet::nf::flows::{self, Side};
use crate::packet::nf::pkt;
use crate::packet::nf::ruleset;
use crate::packet::replay::{self, PacketOut, ReplayRun, UNKNOWN_ARGUMENT};
use crate::packet::run::{BASE_NS, Config, Report, RouterReport};
use crate::packet::snmp::{self, Counters};
use crate::packet::wire::{Endpoints, KernelObs};

/// The suite name in divergence matchers.
pub const SUITE: &str = "netfilter";

/// The summary's count of routers whose `iptables.txt` the lab wrote
/// because `fwdsim host dump` did not.
pub const LAB_WROTE_IPTABLES: &str =
    "(routers whose iptables.txt the lab wrote: host dump wrote none)";

/// Frames per router at least: flows are drawn until this many were
/// injected.
pub const MIN_FRAMES: usize = 64;

/// Capture time between two frames.
pub const FRAME_GAP_NS: i128 = 1_000_000;

/// One injected frame.
#[derive(Clone, Debug)]
pub struct NfProbe {
    /// The router's skb for it (`skbaddr` of its `netif_receive_skb` on
    /// r0 or r1), telling its own `kfree_skb` from those of packets the
    /// router made meanwhile (an ICMP error or reply that OUTPUT dropped).
    pub skb: Option<String>,
    /// `flow 3 tcp: client tcp syn`.
    pub label: String,
    /// Where it entered the router.
    pub side: Side,
    /// The frame.
    pub frame: Vec<u8>,
    /// Capture time.
    pub ts_nanos: i128,
}

fn env_usize(k: &str) -> Option<usize> {
    std::env::var(k).ok().and_then(|v| v.trim().parse().ok())
}

fn ci() -> bool {
    crate::harness::is_ci()
}

/// Whether the suite can run: [`crate::packet::run::require`] and an
/// `iptables-restore`/`iptables-save` of the nf_tables backend. Without
/// them it panics under `CI=true`, else prints why it skips.
pub fn require(test: &str) -> Option<KfreeTrace> {
    let trace = crate::packet::run::require(test)?;
    let why = match run_program("iptables-save", &["--version"]) {
        Ok(o) if o.status.success() => {
            let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if v.contains("nf_tables") && run_program("iptables-restore", &["--version"]).is_ok() {
                eprintln!("{test}: {v}");
                return Some(trace);
            }
            format!(
                "`iptables-save --version` says {v:?}: the suite needs the nf_tables backend (update-alternatives --set iptables /usr/sbin/iptables-nft)"
            )
        }
        Ok(o) => format!(
            "`iptables-save --version` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("iptables-save cannot be run: {e}"),
    };
    if ci() {
        panic!("{test}: CI=true but {why}");
    }
    eprintln!("{test}: SKIPPED: {why} (with CI=true this fails)");
    None
}

/// `iptables-save [-c]` in the router.
fn save(lab: &PktLab, counters: bool) -> Result<String, String> {
    let mut args = vec!["netns", "exec", lab.router.name(), "iptables-save"];
    if counters {
        args.push("-c");
    }
    run_checked("ip", &args).map_err(|e| e.to_string())
}

/// The lines of an `iptables-save` text that are not comments.
fn rules_only(s: &str) -> Vec<&str> {
    s.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

/// What the kernel did with one router's traffic.
struct KernelRun {
    probes: Vec<NfProbe>,
    obs: Vec<KernelObs>,
    before: Saved,
    after: Saved,
    /// `iptables-save -c` text after each frame (parsed when needed).
    per_frame: Vec<String>,
}

/// What [`observe`] saw: the frames injected, the kernel's outcome for
/// each, and `iptables-save -c` after each.
struct Observed {
    probes: Vec<NfProbe>,
    obs: Vec<KernelObs>,
    per_frame: Vec<String>,
}

/// Runs the flows on `lab`: each frame injected, what reached each end fed
/// back to the flow it belongs to (by IP ID).
fn observe(
    lab: &PktLab,
    rng: &mut StdRng,
    base_ns: i128,
    trace: &mut KfreeTrace,
) -> Result<Observed, String> {
    let mut per_frame = Vec::new();
    let mut ep = Endpoints::open(lab).map_err(|e| format!("opening the lab's sockets: {e}"))?;
    let _ = trace.drain();
    ep.drain_client().map_err(|e| e.to_string())?;
    ep.drain_server().map_err(|e| e.to_string())?;
    let mut before = ep.counters().map_err(|e| e.to_string())?;
    let mut probes = Vec::new();
    let mut raw = Vec::new();
    let mut owner: BTreeMap<u16, usize> = BTreeMap::new();
    // Up to `width` flows at once, their steps interleaved at random (real
    // connections overlap); new flows start until MIN_FRAMES frames went out.
    let width = rng.gen_range(1..=3usize);
    let mut active: Vec<(flows::Flow, usize, usize)> = Vec::new();
    let mut started = 0usize;
    loop {
        while active.len() < width && probes.len() < MIN_FRAMES {
            active.push((flows::random(rng, started), started, 0));
            started += 1;
        }
        if active.is_empty() {
            break;
        }
        let a = rng.gen_range(0..active.len());
        let (f, n, k) = &mut active[a];
        let n = *n;
        let step = f.steps[*k];
        *k += 1;
        let done = *k == f.steps.len();
        let id = 0x2000 + probes.len() as u16;
        if let Some(frame) = f.build(step, id) {
            owner.insert(id, n);
            let side = step.side();
            let inj = ep
                .inject_from(side == Side::Server, &frame, trace)
                .map_err(|e| format!("injecting frame {} ({}): {e}", probes.len() + 1, f.label))?;
            for (fs, to_server) in [(&inj.to_server, true), (&inj.to_client, false)] {
                for x in fs {
                    let Some(v) = pkt::parse(x) else { continue };
                    // An out-of-window segment that reaches the server
                    // skipped NAT (conntrack finds it INVALID); a server
                    // answering it would open a connection whose reply
                    // tuple clashes with the flow's, and the kernel picks
                    // a random port for it. The server ignores it.
                    if owner.get(&v.id) == Some(&n)
                        && step != flows::Step::CTcpOutOfWindow
                        && !(v.proto == 1
                            && icmp_error(x).is_some()
                            && !matches!(
                                step,
                                flows::Step::SIcmpErr(..) | flows::Step::SIcmpErrStray
                            ))
                    {
                        if to_server {
                            f.at_server = Some(v);
                        } else {
                            f.at_client = Some(v);
                        }
                    }
                }
            }
            let skb = trace
                .take_receives()
                .into_iter()
                .find(|r| r.dev == side.dev())
                .map(|r| r.skbaddr);
            probes.push(NfProbe {
                skb,
                label: format!("{}: {}", f.label, step.name()),
                side,
                frame,
                ts_nanos: base_ns + probes.len() as i128 * FRAME_GAP_NS,
            });
            raw.push(inj);
            // The rule counters after this frame: which frame moved what,
            // when the totals disagree.
            per_frame.push(save(lab, true)?);
        }
        if done {
            active.swap_remove(a);
        }
    }
    let mut obs = Vec::with_capacity(raw.len());
    for r in raw {
        let (o, after) = r.finish(&before);
        obs.push(o);
        before = after;
    }
    let late = ep
        .settle(crate::packet::run::SETTLE, trace)
        .map_err(|e| format!("after the last frame: {e}"))?;
    if !late.is_empty() {
        return Err(format!(
            "late effects after the last frame: {}",
            late.join("; ")
        ));
    }
    Ok(Observed {
        probes,
        obs,
        per_frame,
    })
}

/// What one router is: its configuration, its ruleset, the capture time
/// of its first frame.
struct Plan<'a> {
    cfg: &'a RouterConfig,
    rules: &'a str,
    base_ns: i128,
}

/// Builds the lab, loads the ruleset, snapshots, runs the flows.
fn kernel_side(
    env: &Env,
    plan: &Plan<'_>,
    rng: &mut StdRng,
    dir: &Path,
    trace: &mut KfreeTrace,
    rep: &mut RouterReport,
) -> Result<KernelRun, String> {
    let (cfg, rules, base_ns) = (plan.cfg, plan.rules, plan.base_ns);
    let lab = PktLab::build(cfg).map_err(|e| format!("building the lab failed: {e}"))?;
    rep.description = format!(
        "{}--- ruleset (iptables-restore in the router) ---\n{rules}",
        lab.describe()
    );
    let file = dir.join("ruleset.txt");
    std::fs::write(&file, rules).map_err(|e| format!("{}: {e}", file.display()))?;
    let f = file.display().to_string();
    run_checked(
        "ip",
        &["netns", "exec", lab.router.name(), "iptables-restore", &f],
    )
    .map_err(|e| format!("iptables-restore refused the ruleset (a lab bug): {e}"))?;
    let snap = dir.join("router");
    std::fs::create_dir(&snap).map_err(|e| format!("{}: {e}", snap.display()))?;
    if let Err(e) = env.fwdsim.host_dump(&snap, lab.router.name()) {
        rep.problems.push(format!(
            "{e} (the replay below ran on the lab's own snapshot made with the same commands)"
        ));
        crate::build::snapshot(lab.router.name(), &snap)
            .map_err(|e| format!("the lab's own snapshot failed too: {e}"))?;
    }
    let saved = save(&lab, false)?;
    let ipt = snap.join("iptables.txt");
    match std::fs::read_to_string(&ipt) {
        Ok(dumped) => {
            if rules_only(&dumped) != rules_only(&saved) {
                rep.problems.push(format!(
                    "`fwdsim host dump` wrote an iptables.txt that is not the router's `iptables-save` (ignoring comments):\n{dumped}"
                ));
            }
        }
        Err(_) => {
            // Counted in the summary (see `run`), not a note per router.
            *rep.kernel_outcomes
                .entry(LAB_WROTE_IPTABLES.into())
                .or_default() += 1;
            std::fs::write(&ipt, &saved).map_err(|e| format!("{}: {e}", ipt.display()))?;
        }
    }
    let before =
        counters::parse(&save(&lab, true)?).map_err(|e| format!("iptables-save -c before: {e}"))?;
    let Observed {
        probes,
        obs,
        per_frame,
    } = observe(&lab, rng, base_ns, trace)?;
    let after =
        counters::parse(&save(&lab, true)?).map_err(|e| format!("iptables-save -c after: {e}"))?;
    Ok(KernelRun {
        probes,
        obs,
        before,
        after,
        per_frame,
    })
}

/// Writes `probes` to a pcapng with interfaces `r0` and `r1`.
pub fn write_capture(path: &Path, probes: &[NfProbe]) -> Result<(), String> {
    use fwdsim_pcap::{LinkType, PcapngWriter};
    let err = |e: fwdsim_pcap::WriteError| format!("{}: {e}", path.display());
    let mut w = PcapngWriter::create(path).map_err(err)?;
    let r0 = w.add_interface("r0", LinkType::ETHERNET).map_err(err)?;
    let r1 = w.add_interface("r1", LinkType::ETHERNET).map_err(err)?;
    for p in probes {
        let id = if p.side == Side::Client { r0 } else { r1 };
        w.write_packet(id, p.ts_nanos, &p.frame).map_err(err)?;
    }
    w.flush().map_err(err)
}

/// Whether `out` is the injected frame `input` itself (NAT may have changed
/// its addresses and ports, not its IP ID or protocol).
fn same_packet(input: &[u8], out: &[u8]) -> bool {
    match (pkt::parse(input), pkt::parse(out)) {
        (Some(a), Some(b)) => {
            a.id == b.id && a.proto == b.proto && (a.proto != 1 || a.icmp == b.icmp)
        }
        _ => false,
    }
}

/// The kernel's frames with the TCP checksum of every segment the router
/// made computed in full. A RST of `REJECT --reject-with tcp-reset` leaves
/// the router `CHECKSUM_PARTIAL` (only the pseudo-header sum in the field,
/// for the device to finish), and a veth hands it to its peer that way, so
/// the packet socket at the end host reads the unfinished value; what a
/// real device would send is the finished one.
fn finish_checksums(input: &[u8], frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    frames
        .iter()
        .map(|f| {
            let mut f = f.clone();
            let ihl = f.get(IP).map_or(0, |b| usize::from(b & 0x0f) * 4);
            if !same_packet(input, &f) && pkt::parse(&f).is_some_and(|v| v.proto == 6) && ihl == 20
            {
                let o = IP + ihl;
                if f.len() >= o + 20 {
                    let seg = f[o..].to_vec();
                    let ip = pkt::Ip {
                        src: pkt::parse(&f).map(|v| v.src).expect("parsed"),
                        dst: pkt::parse(&f).map(|v| v.dst).expect("parsed"),
                        id: 0,
                        ttl: 0,
                        proto: 6,
                    };
                    let full = pkt::frame([0; 6], [0; 6], &ip, seg, false);
                    f[o + 16..o + 18].copy_from_slice(&full[o + 16..o + 18]);
                }
            }
            f
        })
        .collect()
}

/// The kernel's outcome for one frame.
fn kernel_view(p: &NfProbe, o: &KernelObs) -> KernelView {
    let (far, near) = match p.side {
        Side::Client => (&o.to_server, &o.to_client),
        Side::Server => (&o.to_client, &o.to_server),
    };
    let forwarded = far.iter().any(|f| same_packet(&p.frame, f));
    let delivered = o
        .snmp
        .get("Ip")
        .and_then(|m| m.get("InDelivers"))
        .is_some_and(|v| *v > 0);
    // The input's own drop: the event of its skb, else (no receive event)
    // the last one, since what the router makes for a packet it drops is
    // made before the packet is freed.
    let own = match &p.skb {
        Some(a) => o.drops.iter().find(|e| &e.skbaddr == a),
        None => o.drops.last(),
    };
    let (verdict, drop_reason, location) = match own {
        _ if forwarded => ("forward", None, None),
        Some(e) => ("drop", Some(e.reason.clone()), Some(e.location.clone())),
        None if delivered => ("local", None, None),
        None => ("consumed", None, None),
    };
    KernelView {
        verdict,
        drop_reason,
        location,
        icmp: near.iter().find_map(|f| icmp_error(f)),
    }
}

fn icmp_text(i: Option<(u8, u8)>) -> String {
    i.map_or("none".into(), |(t, c)| format!("{t}/{c}"))
}

fn base_disagreement(index: usize, p: &NfProbe, diffs: Vec<FieldDiff>) -> PacketDisagreement {
    let v = pkt::parse(&p.frame);
    PacketDisagreement {
        index,
        label: p.label.clone(),
        query: format!("{} | {}", p.label, pkt::describe(&p.frame)),
        src: v.as_ref().map(|v| v.src),
        dst: v.as_ref().map(|v| v.dst),
        diffs,
        kernel_word: String::new(),
        fwdsim_word: String::new(),
        kernel_detail: String::new(),
        fwdsim_detail: String::new(),
        frame_hex: hex(&p.frame),
        listed: None,
    }
}

/// Compares one frame on verdict, drop reason, ICMP and egress.
fn compare_frame(
    index: usize,
    p: &NfProbe,
    o: &KernelObs,
    out: &PacketOut,
    egress: &[&crate::packet::capture::EgressFrame],
) -> Option<PacketDisagreement> {
    let view = kernel_view(p, o);
    let mut diffs = compare::outcome_diffs(&view, out);
    let on = |dev: &str| -> Vec<&[u8]> {
        egress
            .iter()
            .filter(|e| e.dev == dev)
            .map(|e| &e.frame[..])
            .collect()
    };
    let is_packet = |k: &[u8]| same_packet(&p.frame, k);
    let (to_server, to_client) = (
        finish_checksums(&p.frame, &o.to_server),
        finish_checksums(&p.frame, &o.to_client),
    );
    let mut eg = Vec::new();
    if let Some(e) = compare_frames_by("r1", &to_server, &on("r1"), &is_packet) {
        eg.push(e);
    }
    if let Some(e) = compare_frames_by("r0", &to_client, &on("r0"), &is_packet) {
        eg.push(e);
    }
    compare::push_egress_diff(&mut diffs, eg, egress);
    if diffs.is_empty() {
        return None;
    }
    let mut kd = view.verdict.to_string();
    if let (Some(r), Some(l)) = (&view.drop_reason, &view.location) {
        kd.push_str(&format!(" {r} at {l}"));
    }
    for e in &o.drops {
        if p.skb.as_ref().is_some_and(|a| a != &e.skbaddr) {
            kd.push_str(&format!(
                " (kfree_skb {} at {} of a packet the router made)",
                e.reason, e.location
            ));
        }
    }
    kd.push_str(&format!(", icmp {}", icmp_text(view.icmp)));
    kd.push_str(&format!(
        "\n        counters: {}",
        snmp::render(&snmp::compared(&o.snmp))
    ));
    for f in &o.to_server {
        kd.push_str(&format!("\n        at server: {}", pkt::describe(f)));
    }
    for f in &o.to_client {
        kd.push_str(&format!("\n        at client: {}", pkt::describe(f)));
    }
    let mut fd = out.json.to_string();
    for e in egress {
        fd.push_str(&format!(
            "\n        out {}: {}",
            e.dev,
            pkt::describe(&e.frame)
        ));
    }
    let mut x = base_disagreement(index, p, diffs);
    x.kernel_word = view.word();
    x.fwdsim_word = compare::fwdsim_word(out);
    x.kernel_detail = kd;
    x.fwdsim_detail = fd;
    Some(x)
}

/// The SNMP comparison: totals, then the first frame where the running
/// totals part (bisection over prefix replays).
fn compare_snmp(
    env: &Env,
    k: &KernelRun,
    run: &ReplayRun,
    snap: &Path,
    dir: &Path,
    rep: &mut RouterReport,
) {
    let cum = |n: usize| {
        let mut c = Counters::new();
        for o in &k.obs[..n] {
            snmp::add(&mut c, &snmp::compared(&o.snmp));
        }
        c
    };
    let total = cum(k.obs.len());
    let fw = snmp::compared(&run.snmp);
    if snmp::differences(&total, &fw).is_empty() {
        return;
    }
    let prefix = |n: usize| -> Result<Counters, String> {
        let cap = dir.join(format!("prefix-{n}.pcapng"));
        write_capture(&cap, &k.probes[..n])?;
        let sub = dir.join(format!("prefix-{n}"));
        let _ = std::fs::create_dir_all(&sub);
        let r = replay::replay_with(&env.fwdsim.bin, &cap, snap, &sub, n, &[])?;
        Ok(snmp::compared(&r.snmp))
    };
    // Smallest n whose prefix disagrees (n = len disagrees).
    let (mut lo, mut hi) = (0usize, k.obs.len());
    let mut at_hi = fw.clone();
    let mut at_lo = Counters::new();
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        match prefix(mid) {
            Ok(c) => {
                if snmp::differences(&cum(mid), &c).is_empty() {
                    lo = mid;
                    at_lo = c;
                } else {
                    hi = mid;
                    at_hi = c;
                }
            }
            Err(e) => {
                rep.problems
                    .push(format!("prefix replay for the counters: {e}"));
                return;
            }
        }
    }
    let kd = snmp::delta(&cum(lo), &cum(hi));
    let fd = snmp::delta(&at_lo, &at_hi);
    let p = &k.probes[hi - 1];
    for (name, kv, fv) in snmp::differences(&kd, &fd) {
        let mut x = base_disagreement(
            hi,
            p,
            vec![FieldDiff {
                field: "snmp".into(),
                kernel: format!("{name} {kv:+}"),
                fwdsim: format!("{name} {fv:+}"),
            }],
        );
        x.query = format!("{} | counter {name} | {}", p.label, pkt::describe(&p.frame));
        x.kernel_word = name.clone();
        x.fwdsim_word = name;
        x.kernel_detail = snmp::render(&kd);
        x.fwdsim_detail = snmp::render(&fd);
        rep.disagreements.push(x);
    }
    rep.notes.push(format!(
        "SNMP totals differ (the first frame where the running totals part is {hi}): kernel {} / fwdsim {}",
        snmp::render(&total),
        snmp::render(&fw)
    ));
}

/// The first frame after which some rule counter of fwdsim's prefix replay
/// parts from the kernel's, by bisection over prefix replays
/// (`--save-counters`), and what that frame moved on each side; `None`
/// when a prefix replay fails.
fn first_counter_frame(
    env: &Env,
    k: &KernelRun,
    snap: &Path,
    dir: &Path,
) -> Option<(usize, Vec<counters::CounterDiff>)> {
    let kernel_at = |n: usize| -> Option<Saved> {
        if n == 0 {
            return Some(Saved::new());
        }
        let after = counters::parse(k.per_frame.get(n - 1)?).ok()?;
        Some(counters::delta(&k.before, &after))
    };
    let fwdsim_at = |n: usize| -> Option<Saved> {
        if n == 0 {
            return Some(Saved::new());
        }
        let cap = dir.join(format!("cprefix-{n}.pcapng"));
        write_capture(&cap, &k.probes[..n]).ok()?;
        let sub = dir.join(format!("cprefix-{n}"));
        let _ = std::fs::create_dir_all(&sub);
        let file = sub.join("counters.txt");
        let f = file.display().to_string();
        replay::replay_with(
            &env.fwdsim.bin,
            &cap,
            snap,
            &sub,
            n,
            &["--save-counters", &f],
        )
        .ok()?;
        counters::parse(&std::fs::read_to_string(&file).ok()?).ok()
    };
    // Counters only one side has at zero count the same as absent.
    let agree = |a: &Saved, b: &Saved| {
        counters::compare(a, b).iter().all(|d| {
            d.kernel.unwrap_or((0, 0)) == d.fwdsim.unwrap_or((0, 0)) && d.fwdsim_text.is_none()
        })
    };
    let (mut lo, mut hi) = (0usize, k.probes.len());
    let mut f_lo = Saved::new();
    let mut f_hi = None;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let (km, fm) = (kernel_at(mid)?, fwdsim_at(mid)?);
        if agree(&km, &fm) {
            lo = mid;
            f_lo = fm;
        } else {
            hi = mid;
            f_hi = Some(fm);
        }
    }
    let f_hi = match f_hi {
        Some(f) => f,
        None => fwdsim_at(hi)?,
    };
    let (k_lo, k_hi) = (kernel_at(lo)?, kernel_at(hi)?);
    let step = |a: &Saved, b: &Saved| -> Saved {
        counters::delta(a, b)
            .into_iter()
            .filter(|(_, e)| e.packets > 0)
            .collect()
    };
    let diffs = counters::compare(&step(&k_lo, &k_hi), &step(&f_lo, &f_hi));
    Some((hi, diffs))
}

/// Notes [`first_counter_frame`]'s answer.
fn note_first_counter_frame(
    env: &Env,
    k: &KernelRun,
    snap: &Path,
    dir: &Path,
    rep: &mut RouterReport,
) {
    let Some((n, diffs)) = first_counter_frame(env, k, snap, dir) else {
        rep.notes
            .push("rule counters: the prefix replays that find the first frame failed".into());
        return;
    };
    let p = &k.probes[n - 1];
    let w = |x: Option<(u64, u64)>| x.map_or("nothing".to_string(), |(p, b)| format!("[{p}:{b}]"));
    let moved: Vec<String> = diffs
        .iter()
        .map(|d| {
            let place = if d.key.2 == 0 {
                "policy".to_string()
            } else {
                format!("rule {}", d.key.2)
            };
            format!(
                "{} {} {place} ({}): kernel {} / fwdsim {}",
                d.key.0,
                d.key.1,
                d.text,
                w(d.kernel),
                w(d.fwdsim)
            )
        })
        .collect();
    rep.notes.push(format!(
        "rule counters first part at frame {n} ({}: {}), which moved: {}",
        p.label,
        pkt::describe(&p.frame),
        moved.join("; ")
    ));
}

/// Compares the rule counters.
fn compare_rule_counters(k: &KernelRun, fwdsim_file: &Path, rep: &mut RouterReport) {
    let kernel = counters::delta(&k.before, &k.after);
    let text = match std::fs::read_to_string(fwdsim_file) {
        Ok(t) => t,
        Err(e) => {
            rep.problems.push(format!(
                "`--save-counters {}` wrote nothing readable: {e}",
                fwdsim_file.display()
            ));
            return;
        }
    };
    let fwdsim = match counters::parse(&text) {
        Ok(f) => f,
        Err(e) => {
            rep.problems.push(format!(
                "--save-counters output is not iptables-save -c: {e}"
            ));
            return;
        }
    };
    let moved = kernel.values().filter(|e| e.packets > 0).count();
    *rep.kernel_outcomes
        .entry("(rule counters compared)".into())
        .or_default() += kernel.len();
    *rep.kernel_outcomes
        .entry("(rule counters that moved)".into())
        .or_default() += moved;
    for d in counters::compare(&kernel, &fwdsim) {
        let (t, c, n) = &d.key;
        let w =
            |x: Option<(u64, u64)>| x.map_or("absent".to_string(), |(p, b)| format!("[{p}:{b}]"));
        let mut diffs = vec![FieldDiff {
            field: "rule-counter".into(),
            kernel: w(d.kernel),
            fwdsim: w(d.fwdsim),
        }];
        if let Some(ft) = &d.fwdsim_text {
            diffs.push(FieldDiff {
                field: "rule-text".into(),
                kernel: d.text.clone(),
                fwdsim: ft.clone(),
            });
        }
        let place = if *n == 0 {
            "policy".to_string()
        } else {
            format!("rule {n}")
        };
        rep.disagreements.push(PacketDisagreement {
            index: 0,
            label: "rule counter".into(),
            query: format!("rule counter | {t} {c} {place} | {}", d.text),
            src: None,
            dst: None,
            diffs,
            kernel_word: w(d.kernel),
            fwdsim_word: w(d.fwdsim),
            kernel_detail: format!("{t} {c} {place}: {} {}", w(d.kernel), d.text),
            fwdsim_detail: format!("{t} {c} {place}: {}", w(d.fwdsim)),
            frame_hex: String::new(),
            listed: None,
        });
    }
}

/// Runs one router.
fn run_router(env: &Env, index: usize, seed: u64, trace: &mut KfreeTrace) -> RouterReport {
    let mut rng = StdRng::seed_from_u64(seed);
    let cfg = RouterConfig::netfilter(seed);
    let rules = ruleset::random(&mut rng);
    // A ruleset of one's own instead (the flows stay those of the seed).
    let rules = match std::env::var_os("FWDSIM_NF_RULESET") {
        Some(f) => match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                return RouterReport {
                    label: format!("router {index} (seed {seed:#x})"),
                    index,
                    problems: vec![format!("FWDSIM_NF_RULESET {}: {e}", f.to_string_lossy())],
                    ..RouterReport::default()
                };
            }
        },
        None => rules,
    };
    let mut rep = RouterReport {
        label: format!("router {index} (seed {seed:#x})"),
        index,
        description: format!("{}--- ruleset ---\n{rules}", cfg.describe()),
        ..RouterReport::default()
    };
    let dir = match tempfile::Builder::new().prefix("fwdsim-lab-nf-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            rep.problems
                .push(format!("cannot make a temporary directory: {e}"));
            return rep;
        }
    };
    let base_ns = BASE_NS + index as i128 * 3_600_000_000_000;
    let plan = Plan {
        cfg: &cfg,
        rules: &rules,
        base_ns,
    };
    let k = match kernel_side(env, &plan, &mut rng, dir.path(), trace, &mut rep) {
        Ok(k) => k,
        Err(e) => {
            rep.problems.push(e);
            return rep;
        }
    };
    rep.frames = k.probes.len();
    let unseen = k.probes.iter().filter(|p| p.skb.is_none()).count();
    if unseen > 0 {
        rep.notes.push(format!(
            "{unseen} frame(s) without a netif_receive_skb event on their device (their drop reason is the last kfree_skb's)"
        ));
    }
    let views: Vec<KernelView> = k
        .probes
        .iter()
        .zip(&k.obs)
        .map(|(p, o)| kernel_view(p, o))
        .collect();
    for (k, n) in compare::tally(&views) {
        *rep.kernel_outcomes.entry(k).or_default() += n;
    }
    let cap = dir.path().join("capture.pcapng");
    if let Err(e) = write_capture(&cap, &k.probes) {
        rep.problems.push(e);
        return rep;
    }
    let snap = dir.path().join("router");
    let saved = dir.path().join("counters.txt");
    let s = saved.display().to_string();
    let run = match replay::replay_with(
        &env.fwdsim.bin,
        &cap,
        &snap,
        dir.path(),
        k.probes.len(),
        &["--save-counters", &s],
    ) {
        Ok(r) => Some(r),
        Err(e) if e.starts_with(UNKNOWN_ARGUMENT) => {
            rep.problems.push(format!(
                "fwdsim replay has no --save-counters (interfaces.md §3), so the rule counters were NOT compared: {e}"
            ));
            match replay::replay_with(
                &env.fwdsim.bin,
                &cap,
                &snap,
                dir.path(),
                k.probes.len(),
                &[],
            ) {
                Ok(r) => Some(r),
                Err(e) => {
                    rep.problems.push(e);
                    None
                }
            }
        }
        Err(e) => {
            rep.problems.push(e);
            None
        }
    };
    if let Some(run) = run {
        if !run.stderr.is_empty() {
            rep.notes
                .push(format!("fwdsim replay said on stderr: {}", run.stderr));
        }
        for (i, ((p, o), out)) in k.probes.iter().zip(&k.obs).zip(&run.packets).enumerate() {
            let eg: Vec<_> = run
                .egress
                .iter()
                .filter(|e| e.ts_nanos == p.ts_nanos)
                .collect();
            if let Some(d) = compare_frame(i + 1, p, o, out, &eg) {
                rep.disagreements.push(d);
            }
        }
        compare_snmp(env, &k, &run, &snap, dir.path(), &mut rep);
        if saved.exists()
            || !rep
                .problems
                .iter()
                .any(|p| p.contains("no --save-counters"))
        {
            let before = rep.disagreements.len();
            compare_rule_counters(&k, &saved, &mut rep);
            if rep.disagreements.len() > before && saved.exists() {
                note_first_counter_frame(env, &k, &snap, dir.path(), &mut rep);
            }
        }
    }
    let mut frames_text =
        String::from("--- frames injected (capture.pcapng: interface = ingress device) ---\n");
    for (i, p) in k.probes.iter().enumerate() {
        frames_text.push_str(&format!(
            "  {:3} {} {}: {}\n",
            i + 1,
            p.side.dev(),
            p.label,
            pkt::describe(&p.frame)
        ));
    }
    rep.description.push_str(&frames_text);
    if std::env::var_os("FWDSIM_KEEP").is_some() {
        let kept = dir.keep();
        rep.description.push_str(&format!(
            "  kept (FWDSIM_KEEP): capture {0}/capture.pcapng, snapshot {0}/router, egress {0}/egress.pcapng, counters {0}/counters.txt\n",
            kept.display()
        ));
    }
    rep
}

/// Runs `cfg` and returns the report ([`Report::finish`] prints it and
/// fails the test).
pub fn run(cfg: &Config, env: &Env, trace: &mut KfreeTrace) -> Report {
    let start = Instant::now();
    let (seed, seed_from_env) = master_seed();
    let receive = trace.enable_receive(&["r0", "r1"]).err();
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
    if let Some(why) = receive {
        for rep in &mut reports {
            rep.notes.push(format!(
                "no netif_receive_skb events ({why}): a frame's drop reason is that of the last kfree_skb"
            ));
        }
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
