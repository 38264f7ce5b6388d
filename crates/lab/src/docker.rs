//! The Docker default bridge built for real (issue 7), against fwdsim.
//!
//! ```text
//!   ctr                      host                                        uplink
//!   eth0 172.17.0.2/16 ---- vethd0c1 (port of) docker0 172.17.0.1/16
//!   02:42:ac:11:00:02                           02:42:ac:11:00:01
//!                            eth0 10.0.2.15/24 ----------------------- eth0 10.0.2.2/24
//!                            52:54:00:12:34:56                          52:55:0a:00:02:02
//!                                                                      lo 8.8.8.8/32
//! ```
//!
//! The host has `ip_forward=1`, a default route via 10.0.2.2 and Docker
//! 28's rules for the default bridge (the `[firewall]` block of
//! fixtures/hosts/docker-28.toml) loaded with `iptables-restore`; every
//! neighbour is permanent (no ARP) and IPv6 is off in all three
//! namespaces (no ND); the container and the uplink compute their
//! checksums themselves (`ethtool -K eth0 tx off`, so that the captured
//! frames carry full checksums, [`nflab::tx_csum_off`]). The host is snapshotted with `fwdsim host dump`
//! before any traffic. Then the container's own stack pings 8.8.8.8 (a
//! raw ICMP socket, [`PINGS`] requests) and asks 8.8.8.8:53 a DNS question
//! over UDP, which a responder in the uplink namespace answers. A tap in
//! the host namespace ([`crate::nflab::Tap`]) sees what docker0 and eth0
//! receive and send, in order; the frames received (IPv4 of these flows
//! only, so a new bridge's IGMP reports stay out) become the replay's
//! capture, one pcapng with interfaces `docker0` and `eth0`, with the
//! kernel's timestamps. `fwdsim replay` runs on it and the snapshot, and
//! [`crate::nflab::compare`] checks each frame's verdict, the egress frames
//! byte for byte against what the kernel sent (MASQUERADE'd and de-NATed
//! packets exactly), the SNMP deltas and the iptables counters
//! (`iptables-save -c` after minus before against `--save-counters`).
//!
//! The container's frames reach docker0's `ip_rcv` through the bridge
//! (`br_handle_frame` passes frames for the bridge's own MAC up); the
//! replay takes them as received on docker0, where the tap saw them, which
//! is the same for frames addressed to docker0's MAC. The namespace keeps
//! its default `net.bridge.bridge-nf-call-iptables = 1` (as Docker sets
//! it): the container's frames meet the IPv4 PRE_ROUTING hooks in the
//! bridge's own hook (br_netfilter), and docker0's `ip_rcv` does not run
//! them a second time; the counters of the run agree with fwdsim's single
//! PRE_ROUTING pass.
//!
//! Seeded: the echo identifier, sequence start, payload length, the DNS
//! query's id and source port come from the seed.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::fwdsim::Fwdsim;
use crate::netns::Netns;
use crate::nflab::{self, Disagreement, Observation, PingResult, Tap};
use crate::packet::snmp;

/// Echo requests the container sends.
pub const PINGS: u16 = 3;

/// The container's address.
pub const CTR: Ipv4Addr = Ipv4Addr::new(172, 17, 0, 2);
/// docker0's address.
pub const BRIDGE: Ipv4Addr = Ipv4Addr::new(172, 17, 0, 1);
/// The host's eth0 address.
pub const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The gateway.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The far end (on the uplink's lo).
pub const REMOTE: Ipv4Addr = Ipv4Addr::new(8, 8, 8, 8);
/// The address the DNS answer gives.
pub const ANSWER: Ipv4Addr = Ipv4Addr::new(93, 184, 216, 34);

const CTR_MAC: &str = "02:42:ac:11:00:02";
const BRIDGE_MAC: &str = "02:42:ac:11:00:01";
const HOST_MAC: &str = "52:54:00:12:34:56";
const GW_MAC: &str = "52:55:0a:00:02:02";
/// The bridge port in the host (Docker names them `veth` + 7 hex digits).
pub const PORT: &str = "vethd0c1a2b";

/// The devices compared, in the capture's interface order.
pub const DEVS: &[&str] = &["docker0", "eth0"];

/// Docker 28's rules for the default bridge: the `[firewall]` block of
/// `toml` (fixtures/hosts/docker-28.toml).
pub fn docker_rules(toml_text: &str) -> Result<String, String> {
    let v: toml::Value = toml::from_str(toml_text).map_err(|e| format!("docker-28.toml: {e}"))?;
    v.get("firewall")
        .and_then(|f| f.get("iptables"))
        .and_then(|s| s.as_str())
        .map(str::to_string)
        .ok_or_else(|| "docker-28.toml has no [firewall] iptables".into())
}

/// A DNS query for `example.com` A IN with id `id`.
pub fn dns_query(id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ["example", "com"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The answer to a [`dns_query`]: the question echoed and one A record
/// ([`ANSWER`], TTL 300).
pub fn dns_answer(query: &[u8]) -> Vec<u8> {
    let mut a = query.to_vec();
    if a.len() < 12 {
        return a;
    }
    a[2] = 0x81;
    a[3] = 0x80;
    a[7] = 1;
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4]);
    a.extend_from_slice(&ANSWER.octets());
    a
}

/// The three namespaces.
#[derive(Debug)]
pub struct DockerLab {
    /// The container.
    pub ctr: Netns,
    /// The Docker host (the rules).
    pub host: Netns,
    /// The gateway and the Internet.
    pub uplink: Netns,
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// IPv6 off (no ND, no MLD) in `ns`; a kernel without IPv6 has nothing to
/// turn off.
fn no_ipv6(ns: &Netns) {
    let _ = ns.sysctl(&[
        ("net.ipv6.conf.all.disable_ipv6", "1"),
        ("net.ipv6.conf.default.disable_ipv6", "1"),
    ]);
}

impl DockerLab {
    /// Builds the lab with Docker's `rules` in the host.
    pub fn build(rules: &str) -> Result<DockerLab, String> {
        let lab = DockerLab {
            ctr: Netns::new().map_err(s)?,
            host: Netns::new().map_err(s)?,
            uplink: Netns::new().map_err(s)?,
        };
        for ns in [&lab.ctr, &lab.host, &lab.uplink] {
            no_ipv6(ns);
        }
        let (c, h, u) = (&lab.ctr, &lab.host, &lab.uplink);
        c.ip(&[
            "link",
            "add",
            "eth0",
            "address",
            CTR_MAC,
            "type",
            "veth",
            "peer",
            "name",
            PORT,
            "netns",
            h.name(),
        ])
        .map_err(s)?;
        h.ip(&[
            "link",
            "add",
            "eth0",
            "address",
            HOST_MAC,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "address",
            GW_MAC,
            "netns",
            u.name(),
        ])
        .map_err(s)?;
        h.ip(&[
            "link", "add", "docker0", "address", BRIDGE_MAC, "type", "bridge",
        ])
        .map_err(s)?;
        for args in [
            &["link", "set", PORT, "master", "docker0"][..],
            &["addr", "add", "172.17.0.1/16", "dev", "docker0"],
            &["addr", "add", "10.0.2.15/24", "dev", "eth0"],
            &["link", "set", "docker0", "up"],
            &["link", "set", PORT, "up"],
            &["link", "set", "eth0", "up"],
            &["route", "add", "default", "via", "10.0.2.2", "dev", "eth0"],
            &[
                "neigh",
                "replace",
                "10.0.2.2",
                "lladdr",
                GW_MAC,
                "dev",
                "eth0",
                "nud",
                "permanent",
            ],
            &[
                "neigh",
                "replace",
                "172.17.0.2",
                "lladdr",
                CTR_MAC,
                "dev",
                "docker0",
                "nud",
                "permanent",
            ],
        ] {
            h.ip(args).map_err(s)?;
        }
        for args in [
            &["addr", "add", "172.17.0.2/16", "dev", "eth0"][..],
            &["link", "set", "eth0", "up"],
            &["route", "add", "default", "via", "172.17.0.1"],
            &[
                "neigh",
                "replace",
                "172.17.0.1",
                "lladdr",
                BRIDGE_MAC,
                "dev",
                "eth0",
                "nud",
                "permanent",
            ],
        ] {
            c.ip(args).map_err(s)?;
        }
        for args in [
            &["addr", "add", "10.0.2.2/24", "dev", "eth0"][..],
            &["addr", "add", "8.8.8.8/32", "dev", "lo"],
            &["link", "set", "eth0", "up"],
            &[
                "neigh",
                "replace",
                "10.0.2.15",
                "lladdr",
                HOST_MAC,
                "dev",
                "eth0",
                "nud",
                "permanent",
            ],
        ] {
            u.ip(args).map_err(s)?;
        }
        nflab::tx_csum_off(c, "eth0")?;
        nflab::tx_csum_off(u, "eth0")?;
        h.sysctl(&[("net.ipv4.ip_forward", "1")]).map_err(s)?;
        nflab::iptables_restore(h, rules)?;
        Ok(lab)
    }

    /// The namespaces, for reports.
    pub fn describe(&self) -> String {
        format!(
            "  namespaces: ctr {}, host {}, uplink {}\n",
            self.ctr.name(),
            self.host.name(),
            self.uplink.name()
        )
    }
}

/// The frames of the container's flows: IPv4 ICMP or UDP between the
/// container (or its masqueraded address) and 8.8.8.8.
pub fn of_the_flows(t: &nflab::Tapped) -> bool {
    match nflab::ipv4_of(&t.frame) {
        Some((a, b, p)) => {
            (p == 1 || p == 17)
                && ((a == REMOTE && (b == CTR || b == HOST))
                    || (b == REMOTE && (a == CTR || a == HOST)))
        }
        None => false,
    }
}

/// One run's result.
#[derive(Debug, Default)]
pub struct DockerReport {
    /// Seed.
    pub seed: u64,
    /// What the kernel did (the container's view).
    pub kernel: Vec<String>,
    /// Failures of the lab itself.
    pub problems: Vec<String>,
    /// fwdsim against the kernel.
    pub disagreements: Vec<Disagreement>,
    /// The observation, for the report.
    pub description: String,
    /// Frames replayed.
    pub frames: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl DockerReport {
    /// Whether the run fails.
    pub fn failed(&self) -> bool {
        !self.problems.is_empty() || !self.disagreements.is_empty()
    }

    /// The readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "==== docker default bridge: {} frames replayed, {} disagreements, {} problems, {:.1}s (seed {:#x}; replay: FWDSIM_SEED={})",
            self.frames,
            self.disagreements.len(),
            self.problems.len(),
            self.elapsed.as_secs_f64(),
            self.seed,
            self.seed
        );
        for k in &self.kernel {
            let _ = writeln!(out, "  kernel: {k}");
        }
        out.push_str(&self.description);
        for p in &self.problems {
            let _ = writeln!(out, "PROBLEM: {p}");
        }
        for d in &self.disagreements {
            let _ = writeln!(out, "DISAGREE [{}] {}", d.what, d.detail);
        }
        out
    }
}

/// Builds the lab, sends the container's traffic, replays the host's
/// received frames with `fwdsim` and compares. `toml_text` is
/// fixtures/hosts/docker-28.toml.
pub fn run(fwdsim: &Fwdsim, toml_text: &str, seed: u64) -> DockerReport {
    let start = Instant::now();
    let mut rep = DockerReport {
        seed,
        ..DockerReport::default()
    };
    if let Err(e) = run_inner(fwdsim, toml_text, seed, &mut rep) {
        rep.problems.push(e);
    }
    rep.elapsed = start.elapsed();
    rep
}

fn run_inner(
    fwdsim: &Fwdsim,
    toml_text: &str,
    seed: u64,
    rep: &mut DockerReport,
) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let rules = docker_rules(toml_text)?;
    let lab = DockerLab::build(&rules)?;
    rep.description.push_str(&lab.describe());
    let (_tmp, dir) = nflab::workdir("fwdsim-lab-docker-")?;
    // The new bridge's own reports first, then the snapshot.
    nflab::settle(
        &lab.host,
        Duration::from_millis(300),
        Duration::from_secs(3),
    )?;
    let snap = dir.join("host");
    std::fs::create_dir(&snap).map_err(s)?;
    fwdsim.host_dump(&snap, lab.host.name())?;
    let mut tap = Tap::open(&lab.host)?;
    let ipt_before = nflab::iptables_save_c(&lab.host)?;
    let snmp_before = nflab::proc_counters(&lab.host)?;
    tap.clear()?;

    let id: u16 = rng.r#gen();
    let seq0: u16 = rng.gen_range(1..1000);
    let len: usize = rng.gen_range(16..=120);
    for i in 0..PINGS {
        let r = nflab::ping(&lab.ctr, REMOTE, id, seq0 + i, len, Duration::from_secs(1))?;
        rep.kernel.push(format!(
            "ping 8.8.8.8 id {id:#06x} seq {} ({len} B): {r:?}",
            seq0 + i
        ));
        if r != PingResult::Reply {
            rep.problems
                .push(format!("the container's ping {} got {r:?}", seq0 + i));
        }
    }
    let qid: u16 = rng.r#gen();
    let sport: u16 = rng.gen_range(32768..61000);
    let responder = nflab::udp_responder(
        &lab.uplink,
        SocketAddrV4::new(REMOTE, 53),
        Duration::from_secs(2),
        dns_answer,
    )?;
    let answer = nflab::udp_query(
        &lab.ctr,
        SocketAddrV4::new(CTR, sport),
        SocketAddrV4::new(REMOTE, 53),
        dns_query(qid),
        Duration::from_secs(2),
    )?;
    let asked = responder
        .join()
        .map_err(|_| "the UDP responder panicked".to_string())??;
    rep.kernel.push(format!(
        "DNS query id {qid:#06x} from port {sport}: responder {}, answer {}",
        if asked.is_some() {
            "asked"
        } else {
            "not asked"
        },
        match &answer {
            Some(a) if *a == dns_answer(&dns_query(qid)) => "received".to_string(),
            Some(a) => format!("wrong: {}", nflab::hex(a)),
            None => "none".into(),
        }
    ));
    if answer.is_none() {
        rep.problems.push("the container got no DNS answer".into());
    }
    std::thread::sleep(Duration::from_millis(20));
    let seen = tap.seen()?.to_vec();
    let ipt_after = nflab::iptables_save_c(&lab.host)?;
    let snmp_after = nflab::proc_counters(&lab.host)?;
    let obs = Observation::split(&seen, DEVS, of_the_flows);
    rep.description.push_str(&nflab::describe(&obs));
    rep.frames = obs.received.len();
    if !obs.sent_first.is_empty() {
        rep.problems.push(format!(
            "{} frame(s) of the flows sent before any was received",
            obs.sent_first.len()
        ));
    }
    // The kernel's own outcome: requests left eth0 masqueraded, replies
    // went back to the container.
    for r in &obs.received {
        for t in &r.sent {
            let Some((src, dst, _)) = nflab::ipv4_of(&t.frame) else {
                continue;
            };
            let ok = match t.dev.as_str() {
                "eth0" => src == HOST && dst == REMOTE,
                "docker0" => src == REMOTE && dst == CTR,
                _ => false,
            };
            if !ok {
                rep.problems.push(format!(
                    "the kernel sent {src} -> {dst} on {}: not what MASQUERADE does",
                    t.dev
                ));
            }
        }
    }
    let expected = 2 * (PINGS as usize + 1);
    if obs.received.len() != expected {
        rep.problems.push(format!(
            "{} frames of the flows received, {expected} expected",
            obs.received.len()
        ));
    }
    let cap = dir.join("capture.pcapng");
    obs.write_capture(&cap, DEVS)?;
    let run = nflab::replay(&fwdsim.bin, &cap, &snap, &dir)?;
    if !run.stderr.is_empty() {
        rep.description
            .push_str(&format!("  fwdsim stderr: {}\n", run.stderr));
    }
    let kernel_snmp = snmp::delta(&snmp_before, &snmp_after);
    let kernel_ipt = nflab::ipt_delta(&ipt_before, &ipt_after);
    rep.disagreements = nflab::compare(&obs, Some(&kernel_snmp), &kernel_ipt, &run);
    let counted = kernel_ipt.values().filter(|c| c.0 > 0).count();
    rep.description.push_str(&format!(
        "  iptables: {} rule and policy counters compared, {counted} of them moved\n",
        kernel_ipt.len()
    ));
    if counted == 0 {
        rep.problems
            .push("no iptables counter moved: the rules did not see the traffic".into());
    }
    rep.description.push_str(&format!(
        "  kernel snmp: {}\n  fwdsim snmp: {}\n",
        snmp::render(&snmp::compared(&kernel_snmp)),
        snmp::render(&snmp::compared(&run.snmp))
    ));
    keep(&dir, rep);
    Ok(())
}

/// With `FWDSIM_KEEP`, copies the run's files somewhere that outlives it.
fn keep(dir: &Path, rep: &mut DockerReport) {
    if std::env::var_os("FWDSIM_KEEP").is_none() {
        return;
    }
    let to = std::env::temp_dir().join(format!("fwdsim-docker-kept-{}", std::process::id()));
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
    fn dns_answer_echoes_the_question() {
        let q = dns_query(0xbeef);
        let a = dns_answer(&q);
        assert_eq!(&a[..2], &[0xbe, 0xef]);
        assert_eq!(a[3], 0x80);
        assert_eq!(&a[12..q.len()], &q[12..]);
        assert_eq!(&a[a.len() - 4..], &[93, 184, 216, 34]);
    }

    #[test]
    fn rules_come_from_the_fixture() {
        let t = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/hosts/docker-28.toml"
        ))
        .unwrap();
        let r = docker_rules(&t).unwrap();
        assert!(r.contains("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"));
    }
}
