//! Captures as people take them (issue 8), against the kernel: the Docker
//! default bridge of [`crate::docker`] built in namespaces, the host
//! snapshotted with `fwdsim host dump` before any traffic (every neighbour
//! permanent, so ARP stays out), the container's own stack pinging, and
//! `tcpdump` in the host namespace capturing as users do:
//!
//! * `tcpdump -i docker0` (both directions, a pcap without direction: the
//!   own-MAC rule),
//! * `tcpdump -i docker0 -Q in`,
//! * `tcpdump -i any -y LINUX_SLL2` (every device, `PACKET_OUTGOING`),
//! * `tcpdump -i vethd0c1a2b` (the bridge port),
//! * a pcapng of docker0 and eth0 with `epb_flags`, merged from the
//!   both-directions captures of each device, each frame's direction taken
//!   from the kernel (its `-Q in` capture of that device).
//!
//! Two phases, each with its own captures: pings to docker0's address
//! (the host's own stack answers: local, and echo replies the host sends
//! on docker0), then pings to 8.8.8.8 (forwarded and masqueraded by
//! Docker's rules to the uplink namespace, which answers). Each capture is
//! replayed against the snapshot; compared with the kernel: the host
//! namespace's /proc/net/snmp deltas of the phase against the replay's
//! counters (for captures that cover every device the phase's traffic
//! crossed), and the verdicts: as many `sent` lines as the kernel sent
//! frames on the captured devices (a capture's frames minus its `-Q in`
//! twin), as many `local` as `Ip.InDelivers`, as many `forward` as
//! `Ip.ForwDatagrams`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::docker::{self, BRIDGE, DockerLab, PORT, REMOTE};
use crate::fwdsim::Fwdsim;
use crate::netns::Netns;
use crate::nflab::{self, PingResult};
use crate::packet::snmp::{self, Counters};

/// Echo requests per phase.
pub const PINGS: u16 = 4;

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A `tcpdump` running in a namespace, writing one file.
pub struct Tcpdump {
    child: Child,
    /// The capture file.
    pub file: PathBuf,
    /// `tcpdump ARGS`, for messages.
    pub what: String,
}

impl Tcpdump {
    /// Starts `tcpdump -n -U --immediate-mode -w FILE ARGS` in `ns` (each
    /// packet written as it comes: a stop loses none) and waits until it
    /// listens.
    pub fn start(ns: &Netns, args: &[&str], file: &Path) -> Result<Tcpdump, String> {
        let f = file.display().to_string();
        let mut argv = vec![
            "netns",
            "exec",
            ns.name(),
            "tcpdump",
            "-n",
            "-U",
            "--immediate-mode",
            "-w",
            &f,
        ];
        argv.extend_from_slice(args);
        let what = format!("tcpdump {}", args.join(" "));
        let mut child = Command::new("ip")
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{what}: {e} (is tcpdump installed?)"))?;
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        let mut said = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(l) if l.contains("listening on") => break,
                Ok(l) => said.push(l),
                Err(_) if start.elapsed() > Duration::from_secs(10) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{what} did not start: {}", said.join(" / ")));
                }
                Err(_) => {
                    if let Ok(Some(st)) = child.try_wait() {
                        return Err(format!("{what} exited {st}: {}", said.join(" / ")));
                    }
                }
            }
        }
        Ok(Tcpdump {
            child,
            file: file.to_path_buf(),
            what,
        })
    }

    /// Stops it (SIGINT, as ^C: it writes what it has) and waits.
    pub fn stop(mut self) -> Result<PathBuf, String> {
        // `ip netns exec` execs tcpdump: the child's pid is tcpdump's.
        let pid = self.child.id().to_string();
        let _ = crate::netns::run_program("kill", &["-INT", &pid]);
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(self.file.clone()),
                Ok(None) if start.elapsed() > Duration::from_secs(5) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!("{} did not stop on SIGINT", self.what));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("{}: {e}", self.what)),
            }
        }
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Frames with their timestamps (nanoseconds).
pub type Frames = Vec<(i128, Vec<u8>)>;

/// The frames of a capture file, with their timestamps.
pub fn frames(file: &Path) -> Result<Frames, String> {
    let mut r = fwdsim_pcap::CaptureReader::open(file).map_err(s)?;
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.map_err(|e| format!("{}: {e}", file.display()))?;
        out.push((p.ts_nanos, p.frame.to_vec()));
    }
    Ok(out)
}

/// Writes a pcapng with one interface per `(name, both, inbound)`: every
/// frame of `both`, in time order across the devices, with `epb_flags`
/// inbound when the same bytes are in `inbound` (the kernel's `-Q in`
/// capture of that device), else outbound.
pub fn merge_with_direction(out: &Path, devs: &[(&str, Frames, Frames)]) -> Result<(), String> {
    use fwdsim_pcap::Direction;
    let mut w = fwdsim_pcap::PcapngWriter::create(out).map_err(s)?;
    let mut all = Vec::new();
    for (name, both, inbound) in devs {
        let id = w
            .add_interface(name, fwdsim_pcap::LinkType::ETHERNET)
            .map_err(s)?;
        let mut left: Vec<&Vec<u8>> = inbound.iter().map(|(_, f)| f).collect();
        for (ts, f) in both {
            let dir = match left.iter().position(|g| *g == f) {
                Some(i) => {
                    left.swap_remove(i);
                    Direction::Inbound
                }
                None => Direction::Outbound,
            };
            all.push((*ts, id, f.clone(), dir));
        }
    }
    all.sort_by_key(|(ts, id, _, _)| (*ts, *id));
    for (ts, id, f, d) in all {
        w.write_packet_with_direction(id, ts, &f, Some(d))
            .map_err(s)?;
    }
    w.flush().map_err(s)
}

/// What one replay gave.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Lines by verdict word.
    pub verdicts: std::collections::BTreeMap<String, i64>,
    /// The closing counters.
    pub snmp: Counters,
    /// Every line, for the report.
    pub lines: Vec<serde_json::Value>,
}

/// `fwdsim replay CAPTURE --host SNAP -j [--iif DEV]`.
pub fn replay(
    fwdsim: &Fwdsim,
    capture: &Path,
    snap: &Path,
    iif: Option<&str>,
) -> Result<Replayed, String> {
    let c = capture.display().to_string();
    let h = snap.display().to_string();
    let mut args = vec!["replay", &c, "--host", &h, "-j"];
    if let Some(i) = iif {
        args.extend(["--iif", i]);
    }
    let o = Command::new(&fwdsim.bin)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", fwdsim.bin.display()))?;
    if !o.status.success() {
        return Err(format!(
            "`fwdsim {}` exited {:?}: {}",
            args.join(" "),
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let mut r = Replayed::default();
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).map_err(|e| format!("{l:?}: {e}"))?;
        if let Some(x) = v.get("snmp") {
            r.snmp = snmp::from_json(x).unwrap_or_default();
        } else {
            let w = v["verdict"].as_str().unwrap_or("?").to_string();
            *r.verdicts.entry(w).or_default() += 1;
            r.lines.push(v);
        }
    }
    Ok(r)
}

/// One run's result.
#[derive(Debug, Default)]
pub struct CaptureReport {
    /// Seed.
    pub seed: u64,
    /// What was captured and replayed, one line per capture.
    pub lines: Vec<String>,
    /// Failures of the lab itself.
    pub problems: Vec<String>,
    /// fwdsim against the kernel.
    pub disagreements: Vec<String>,
    /// Namespaces, for the report.
    pub description: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl CaptureReport {
    /// Whether the run fails.
    pub fn failed(&self) -> bool {
        !self.problems.is_empty() || !self.disagreements.is_empty()
    }

    /// The readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "==== captures as people take them: {} replays, {} disagreements, {} problems, {:.1}s (seed {:#x}; replay: FWDSIM_SEED={})",
            self.lines.len(),
            self.disagreements.len(),
            self.problems.len(),
            self.elapsed.as_secs_f64(),
            self.seed,
            self.seed
        );
        out.push_str(&self.description);
        for l in &self.lines {
            let _ = writeln!(out, "  {l}");
        }
        for p in &self.problems {
            let _ = writeln!(out, "PROBLEM: {p}");
        }
        for d in &self.disagreements {
            let _ = writeln!(out, "DISAGREE {d}");
        }
        out
    }
}

/// One capture of a phase and what it is compared on.
struct Case {
    name: &'static str,
    file: PathBuf,
    iif: Option<&'static str>,
    /// Frames the kernel sent on the captured devices (0 for a `-Q in`
    /// capture).
    sent: i64,
    /// Whether it covers every device the phase's traffic crossed, so
    /// that its counters are the kernel's.
    complete: bool,
    /// Lines for frames on the bridge port that the bridge passed up and
    /// whose copy on docker0 is simulated (`forward`, `up_copy`).
    bridged: i64,
}

/// Builds the lab, runs both phases, replays every capture and compares.
/// `toml_text` is fixtures/hosts/docker-28.toml (Docker's rules).
pub fn run(fwdsim: &Fwdsim, toml_text: &str, seed: u64) -> CaptureReport {
    let start = Instant::now();
    let mut rep = CaptureReport {
        seed,
        ..CaptureReport::default()
    };
    if let Err(e) = run_inner(fwdsim, toml_text, seed, &mut rep) {
        rep.problems.push(e);
    }
    rep.elapsed = start.elapsed();
    rep
}

fn pings(
    lab: &DockerLab,
    dst: std::net::Ipv4Addr,
    rng: &mut StdRng,
    rep: &mut CaptureReport,
) -> Result<(), String> {
    let id: u16 = rng.r#gen();
    let seq0: u16 = rng.gen_range(1..1000);
    let len: usize = rng.gen_range(16..=120);
    for i in 0..PINGS {
        let r = nflab::ping(&lab.ctr, dst, id, seq0 + i, len, Duration::from_secs(1))?;
        if r != PingResult::Reply {
            rep.problems.push(format!(
                "the container's ping {dst} seq {} got {r:?}",
                seq0 + i
            ));
        }
    }
    Ok(())
}

/// Captures `traffic` with a `tcpdump` per `(args, file)`, and returns the
/// kernel's compared counter deltas over it. A capture can lose a frame
/// (the kernel drops it for a socket that is behind): when the captures do
/// not agree with each other (`consistent`), the phase is run again, up to
/// three times; so is a phase during which the host sent multicast of its
/// own.
fn captured_phase(
    h: &Netns,
    specs: &[(Vec<&str>, PathBuf)],
    mut traffic: impl FnMut() -> Result<(), String>,
    consistent: impl Fn() -> Result<bool, String>,
) -> Result<Counters, String> {
    for _ in 0..3 {
        let mut dumps = Vec::new();
        for (args, file) in specs {
            dumps.push(Tcpdump::start(h, args, file)?);
        }
        std::thread::sleep(Duration::from_millis(100));
        let before = nflab::proc_counters(h)?;
        traffic()?;
        std::thread::sleep(Duration::from_millis(300));
        let after = nflab::proc_counters(h)?;
        for d in dumps {
            d.stop()?;
        }
        let delta = snmp::compared(&snmp::delta(&before, &after));
        // The host's own multicast (a late IGMP report of the new bridge)
        // is no answer to the traffic: a capture shows it as sent, and
        // its counters are not the replay's to make. Run again.
        let noise = get(&delta, "IpExt", "OutMcastPkts") != 0;
        if consistent()? && !noise {
            return Ok(delta);
        }
    }
    Err("three runs of the phase lost frames (`-i any` does not hold every frame of the others) or had the host's own multicast in the counters".into())
}

fn run_inner(
    fwdsim: &Fwdsim,
    toml_text: &str,
    seed: u64,
    rep: &mut CaptureReport,
) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let rules = docker::docker_rules(toml_text)?;
    let lab = DockerLab::build(&rules)?;
    rep.description.push_str(&lab.describe());
    let (_tmp, dir) = nflab::workdir("fwdsim-lab-capture-")?;
    // The new bridge's IGMP reports (repeated within a second) before the
    // snapshot and the traffic.
    nflab::settle(
        &lab.host,
        Duration::from_millis(1500),
        Duration::from_secs(5),
    )?;
    let snap = dir.join("host");
    std::fs::create_dir(&snap).map_err(s)?;
    fwdsim.host_dump(&snap, lab.host.name())?;
    let h = &lab.host;

    // Phase 1: the host's own stack answers (docker0 only).
    let f = |n: &str| dir.join(n);
    let n = |p: &str| frames(&f(p)).map(|v| v.len() as i64);
    let specs1: Vec<(Vec<&str>, PathBuf)> = vec![
        (vec!["-i", "docker0"], f("1-docker0.pcap")),
        (vec!["-i", "docker0", "-Q", "in"], f("1-docker0-in.pcap")),
        (vec!["-i", PORT], f("1-port.pcap")),
        (vec!["-i", PORT, "-Q", "in"], f("1-port-in.pcap")),
        (vec!["-i", "any", "-y", "LINUX_SLL2"], f("1-any.pcap")),
    ];
    // `-i any` sees each frame on the port and on docker0.
    let k1 = captured_phase(
        h,
        &specs1,
        || pings(&lab, BRIDGE, &mut rng, rep),
        || Ok(n("1-any.pcap")? == n("1-docker0.pcap")? + n("1-port.pcap")?),
    )?;
    let (d0, d0in, port, portin) = (
        n("1-docker0.pcap")?,
        n("1-docker0-in.pcap")?,
        n("1-port.pcap")?,
        n("1-port-in.pcap")?,
    );
    let phase1 = [
        Case {
            name: "tcpdump -i docker0",
            file: f("1-docker0.pcap"),
            iif: Some("docker0"),
            sent: d0 - d0in,
            complete: true,
            bridged: 0,
        },
        Case {
            name: "tcpdump -i docker0 -Q in",
            file: f("1-docker0-in.pcap"),
            iif: Some("docker0"),
            sent: 0,
            complete: true,
            bridged: 0,
        },
        Case {
            name: "tcpdump -i vethd0c1a2b (bridge port)",
            file: f("1-port.pcap"),
            iif: Some(PORT),
            sent: port - portin,
            complete: true,
            bridged: 0,
        },
        Case {
            name: "tcpdump -i any -y LINUX_SLL2",
            file: f("1-any.pcap"),
            iif: None,
            // Sent on docker0 and again on the port.
            sent: (d0 - d0in) + (port - portin),
            complete: true,
            bridged: portin,
        },
    ];
    compare_phase(fwdsim, &snap, "to docker0", &k1, &phase1, rep);

    // Phase 2: forwarded and masqueraded.
    let specs2: Vec<(Vec<&str>, PathBuf)> = vec![
        (vec!["-i", "docker0"], f("2-docker0.pcap")),
        (vec!["-i", "docker0", "-Q", "in"], f("2-docker0-in.pcap")),
        (vec!["-i", "eth0"], f("2-eth0.pcap")),
        (vec!["-i", "eth0", "-Q", "in"], f("2-eth0-in.pcap")),
        (vec!["-i", PORT], f("2-port.pcap")),
        (vec!["-i", PORT, "-Q", "in"], f("2-port-in.pcap")),
        (vec!["-i", "any", "-y", "LINUX_SLL2"], f("2-any.pcap")),
    ];
    let k2 = captured_phase(
        h,
        &specs2,
        || pings(&lab, REMOTE, &mut rng, rep),
        || Ok(n("2-any.pcap")? == n("2-docker0.pcap")? + n("2-eth0.pcap")? + n("2-port.pcap")?),
    )?;
    let (d0f, d0inf, e0f, e0inf) = (
        frames(&f("2-docker0.pcap"))?,
        frames(&f("2-docker0-in.pcap"))?,
        frames(&f("2-eth0.pcap"))?,
        frames(&f("2-eth0-in.pcap"))?,
    );
    let sent2 = (d0f.len() - d0inf.len()) as i64 + (e0f.len() - e0inf.len()) as i64;
    let portin2 = n("2-port-in.pcap")?;
    let (d0n, d0inn) = (d0f.len() as i64, d0inf.len() as i64);
    merge_with_direction(
        &f("2-docker0-eth0.pcapng"),
        &[("docker0", d0f, d0inf), ("eth0", e0f, e0inf)],
    )?;
    let phase2 = [
        Case {
            name: "pcapng of docker0 and eth0 with epb_flags",
            file: f("2-docker0-eth0.pcapng"),
            iif: None,
            sent: sent2,
            complete: true,
            bridged: 0,
        },
        Case {
            name: "tcpdump -i any -y LINUX_SLL2",
            file: f("2-any.pcap"),
            iif: None,
            // Replies are sent on docker0 and again on the port.
            sent: sent2 + (d0n - d0inn),
            complete: true,
            bridged: portin2,
        },
        Case {
            name: "tcpdump -i docker0 (eth0 not covered: verdicts only)",
            file: f("2-docker0.pcap"),
            iif: Some("docker0"),
            sent: d0n - d0inn,
            complete: false,
            bridged: 0,
        },
    ];
    compare_phase(fwdsim, &snap, "to 8.8.8.8", &k2, &phase2, rep);
    keep(&dir, rep);
    Ok(())
}

fn get(c: &Counters, g: &str, n: &str) -> i64 {
    c.get(g).and_then(|m| m.get(n)).copied().unwrap_or(0)
}

fn compare_phase(
    fwdsim: &Fwdsim,
    snap: &Path,
    phase: &str,
    kernel: &Counters,
    cases: &[Case],
    rep: &mut CaptureReport,
) {
    rep.lines.push(format!(
        "phase {phase}: kernel snmp {}",
        snmp::render(kernel)
    ));
    let delivers = get(kernel, "Ip", "InDelivers");
    let forwarded = get(kernel, "Ip", "ForwDatagrams");
    if delivers + forwarded == 0 {
        rep.problems.push(format!(
            "phase {phase}: the kernel neither delivered nor forwarded"
        ));
    }
    for c in cases {
        let r = match replay(fwdsim, &c.file, snap, c.iif) {
            Ok(r) => r,
            Err(e) => {
                rep.problems.push(format!("{phase}, {}: {e}", c.name));
                continue;
            }
        };
        let v = |w: &str| r.verdicts.get(w).copied().unwrap_or(0);
        rep.lines.push(format!(
            "{phase}, {}: {} lines, verdicts {:?}, fwdsim snmp {}",
            c.name,
            r.lines.len(),
            r.verdicts,
            snmp::render(&snmp::compared(&r.snmp))
        ));
        // The port's copies of frames the bridge passed up: `forward` (the
        // bridge took them on), marked `up_copy`.
        let up_copies = r
            .lines
            .iter()
            .filter(|l| l["bridge"]["action"] == "up_copy" && l["verdict"] == "forward")
            .count() as i64;
        if up_copies != c.bridged {
            rep.disagreements.push(format!(
                "[{phase}, {}] {} port copies of frames passed up to docker0 expected (`forward`, bridge action `up_copy`), fwdsim gave {up_copies}",
                c.name, c.bridged
            ));
        }
        let mut want = vec![("sent", c.sent)];
        if c.complete {
            want.push(("local", delivers));
            want.push(("forward", forwarded + c.bridged));
        }
        for (w, n) in want {
            if v(w) != n {
                rep.disagreements.push(format!(
                    "[{phase}, {}] {n} `{w}` expected from the kernel, fwdsim gave {}",
                    c.name,
                    v(w)
                ));
            }
        }
        if !c.complete {
            // Received frames of docker0: the requests, forwarded.
            let inbound = r.lines.len() as i64 - c.sent;
            if v("forward") != inbound {
                rep.disagreements.push(format!(
                    "[{phase}, {}] {inbound} `forward` expected (the frames docker0 received), fwdsim gave {}",
                    c.name,
                    v("forward")
                ));
            }
        }
        for w in ["drop", "queued"] {
            if v(w) != 0 {
                rep.disagreements.push(format!(
                    "[{phase}, {}] {} `{w}` lines; the kernel dropped nothing",
                    c.name,
                    v(w)
                ));
            }
        }
        if c.complete {
            for (k, kv, fv) in snmp::differences(kernel, &snmp::compared(&r.snmp)) {
                rep.disagreements.push(format!(
                    "[{phase}, {}] {k}: kernel {kv}, fwdsim {fv}",
                    c.name
                ));
            }
        }
    }
}

/// With `FWDSIM_KEEP`, copies the run's files somewhere that outlives it.
fn keep(dir: &Path, rep: &mut CaptureReport) {
    if std::env::var_os("FWDSIM_KEEP").is_none() {
        return;
    }
    let to = std::env::temp_dir().join(format!("fwdsim-capture-kept-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&to);
    if crate::netns::run_checked(
        "cp",
        &["-r", &dir.display().to_string(), &to.display().to_string()],
    )
    .is_ok()
    {
        rep.description
            .push_str(&format!("  kept (FWDSIM_KEEP): {}\n", to.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_takes_the_direction_from_the_inbound_capture() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("m.pcapng");
        let a = vec![0xaa; 60];
        let b = vec![0xbb; 60];
        let c = vec![0xcc; 60];
        merge_with_direction(
            &out,
            &[
                (
                    "docker0",
                    vec![(3, a.clone()), (1, b.clone())],
                    vec![(1, a.clone())],
                ),
                ("eth0", vec![(2, c.clone())], vec![]),
            ],
        )
        .unwrap();
        let mut r = fwdsim_pcap::CaptureReader::open(&out).unwrap();
        let mut got = Vec::new();
        while let Some(p) = r.next_packet() {
            let p = p.unwrap();
            got.push((
                p.ts_nanos,
                p.iif_name.unwrap().to_string(),
                p.direction,
                p.frame[0],
            ));
        }
        use fwdsim_pcap::Direction::*;
        assert_eq!(
            got,
            [
                (1, "docker0".into(), Some(Outbound), 0xbb),
                (2, "eth0".into(), Some(Outbound), 0xcc),
                (3, "docker0".into(), Some(Inbound), 0xaa),
            ]
        );
    }
}
