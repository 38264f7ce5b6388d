//! The kernel's own netfilter selftests
//! (tools/testing/selftests/net/netfilter/) rebuilt as "build, send,
//! check" tests against both the kernel and fwdsim.
//!
//! Each case builds the selftest's topology (namespaces, veths, addresses),
//! loads its rules, sends its packets from the end hosts' own stacks
//! ([`nflab::ping`]) and checks what the selftest checks on the kernel
//! (delivered or not, rule counters, NAT'd addresses). Around the traffic,
//! the namespace that holds the rules is snapshotted with `fwdsim host
//! dump` and watched with a [`nflab::Tap`]; the frames it received are then
//! replayed through `fwdsim replay` and compared frame by frame, egress
//! frame by egress frame, counter by counter ([`nflab::compare`]).
//!
//! Common to every case, and different from the shell scripts:
//! - IPv4 only: IPv6 is off in every namespace (no ND), so the scripts'
//!   IPv6 halves are left out;
//! - every neighbour is permanent (fwdsim replays from a snapshot taken
//!   before the traffic, so ARP would stand between the two sides);
//! - the rules are iptables (`iptables-restore`, the iptables-nft backend
//!   here): fwdsim reads `iptables-save` text, and its nft loader is
//!   written elsewhere. Each case's documentation gives the nft rule of
//!   the script and the iptables equivalent used.
//! - the senders compute their checksums (`ethtool -K DEV tx off`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::fwdsim::Fwdsim;
use crate::netns::Netns;
use crate::nflab::{self, Disagreement, Observation, PingResult, Tap};
use crate::packet::snmp;

/// How long a ping that must fail waits.
const FAIL_WAIT: Duration = Duration::from_millis(300);
/// How long a ping that must succeed may wait.
const OK_WAIT: Duration = Duration::from_secs(1);

/// The namespaces of one case, by role.
#[derive(Debug, Default)]
pub struct Topo {
    nss: BTreeMap<&'static str, Netns>,
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Topo {
    /// One namespace per role, IPv6 off in each.
    pub fn new(roles: &[&'static str]) -> Result<Topo, String> {
        let mut t = Topo::default();
        for r in roles {
            let ns = Netns::new().map_err(s)?;
            let _ = ns.sysctl(&[
                ("net.ipv6.conf.all.disable_ipv6", "1"),
                ("net.ipv6.conf.default.disable_ipv6", "1"),
            ]);
            t.nss.insert(r, ns);
        }
        Ok(t)
    }

    /// The namespace of `role`.
    pub fn ns(&self, role: &str) -> &Netns {
        &self.nss[role]
    }

    /// `ip -n NS ARGS` for `role`.
    pub fn ip(&self, role: &str, args: &[&str]) -> Result<(), String> {
        self.ns(role).ip(args).map(|_| ()).map_err(s)
    }

    /// A veth pair `a:adev` — `b:bdev` with the given MACs, both ends up,
    /// transmit checksumming off.
    pub fn veth(
        &self,
        (a, adev, amac): (&str, &str, &str),
        (b, bdev, bmac): (&str, &str, &str),
    ) -> Result<(), String> {
        self.ip(
            a,
            &[
                "link",
                "add",
                adev,
                "address",
                amac,
                "type",
                "veth",
                "peer",
                "name",
                bdev,
                "address",
                bmac,
                "netns",
                self.ns(b).name(),
            ],
        )?;
        for (r, d) in [(a, adev), (b, bdev)] {
            self.ip(r, &["link", "set", d, "up"])?;
            nflab::tx_csum_off(self.ns(r), d)?;
        }
        Ok(())
    }

    /// `ip addr add ADDR dev DEV` in `role`.
    pub fn addr(&self, role: &str, addr: &str, dev: &str) -> Result<(), String> {
        self.ip(role, &["addr", "add", addr, "dev", dev])
    }

    /// A permanent neighbour in `role`.
    pub fn neigh(&self, role: &str, ip: &str, mac: &str, dev: &str) -> Result<(), String> {
        self.ip(
            role,
            &[
                "neigh",
                "replace",
                ip,
                "lladdr",
                mac,
                "dev",
                dev,
                "nud",
                "permanent",
            ],
        )
    }

    /// `sysctl -w` in `role`.
    pub fn sysctl(&self, role: &str, pairs: &[(&str, &str)]) -> Result<(), String> {
        self.ns(role).sysctl(pairs).map_err(s)
    }

    /// The namespaces, for reports.
    pub fn describe(&self) -> String {
        let v: Vec<String> = self
            .nss
            .iter()
            .map(|(r, n)| format!("{r} {}", n.name()))
            .collect();
        format!("  namespaces: {}\n", v.join(", "))
    }
}

/// One case's result.
#[derive(Debug, Default)]
pub struct CaseReport {
    /// The selftest and case.
    pub name: String,
    /// The selftest's checks on the kernel: what, and whether it held.
    pub checks: Vec<(String, bool)>,
    /// Failures of the lab itself.
    pub problems: Vec<String>,
    /// fwdsim against the kernel.
    pub disagreements: Vec<Disagreement>,
    /// Namespaces, frames, counters.
    pub description: String,
    /// Frames replayed.
    pub frames: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl CaseReport {
    /// Whether the case fails.
    pub fn failed(&self) -> bool {
        !self.problems.is_empty()
            || !self.disagreements.is_empty()
            || self.checks.iter().any(|(_, ok)| !ok)
    }

    /// The readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "==== {}: {} kernel checks ({} failed), {} frames replayed, {} disagreements, {} problems, {:.1}s",
            self.name,
            self.checks.len(),
            self.checks.iter().filter(|c| !c.1).count(),
            self.frames,
            self.disagreements.len(),
            self.problems.len(),
            self.elapsed.as_secs_f64()
        );
        for (c, ok) in &self.checks {
            let _ = writeln!(out, "  kernel {}: {c}", if *ok { "ok  " } else { "FAIL" });
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

/// The IPv4 frames of the cases' flows (ICMP, TCP, UDP; not IGMP).
fn of_the_flows(t: &nflab::Tapped) -> bool {
    matches!(nflab::ipv4_of(&t.frame), Some((_, _, 1 | 6 | 17)))
}

/// The packet count of the rule (or policy, `:CHAIN POLICY`) `line` of
/// `table` in `rules_ns`'s counters now.
pub fn rule_packets(rules_ns: &Netns, table: &str, line: &str) -> Result<u64, String> {
    let c = nflab::iptables_save_c(rules_ns)?;
    c.iter()
        .find(|((t, l, _), _)| t == table && l == line)
        .map(|(_, (p, _))| *p)
        .ok_or_else(|| format!("no rule {line:?} in table {table}"))
}

/// What [`differential`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything: the rules' host only receives and forwards (and answers).
    Full,
    /// The rules' host also sends packets of its own, which a capture of
    /// received frames cannot replay (interfaces.md §3: a frame the host
    /// sent is `sent`, not simulated): per frame verdicts and egress, and
    /// the counters of PREROUTING and INPUT only
    /// ([`nflab::input_chains_only`]); no SNMP.
    Received,
}

/// Snapshots `rules` (a role of `topo`), runs `traffic` while the tap
/// watches `devs`, replays what `rules` received and compares.
pub fn differential(
    fwdsim: &Fwdsim,
    name: &str,
    topo: &Topo,
    rules: &str,
    devs: &[&str],
    traffic: impl FnOnce(&Topo, &mut Vec<(String, bool)>) -> Result<(), String>,
) -> CaseReport {
    differential_scoped(fwdsim, name, topo, rules, devs, Scope::Full, traffic)
}

/// [`differential`] with a [`Scope`].
pub fn differential_scoped(
    fwdsim: &Fwdsim,
    name: &str,
    topo: &Topo,
    rules: &str,
    devs: &[&str],
    scope: Scope,
    traffic: impl FnOnce(&Topo, &mut Vec<(String, bool)>) -> Result<(), String>,
) -> CaseReport {
    let start = Instant::now();
    let mut rep = CaseReport {
        name: name.to_string(),
        description: topo.describe(),
        ..CaseReport::default()
    };
    if let Err(e) = differential_inner(fwdsim, topo, rules, devs, scope, traffic, &mut rep) {
        rep.problems.push(e);
    }
    rep.elapsed = start.elapsed();
    rep
}

fn differential_inner(
    fwdsim: &Fwdsim,
    topo: &Topo,
    rules: &str,
    devs: &[&str],
    scope: Scope,
    traffic: impl FnOnce(&Topo, &mut Vec<(String, bool)>) -> Result<(), String>,
    rep: &mut CaseReport,
) -> Result<(), String> {
    let rns = topo.ns(rules);
    nflab::settle(rns, Duration::from_millis(200), Duration::from_secs(2))?;
    let (_tmp, dir) = nflab::workdir("fwdsim-lab-nfself-")?;
    let snap = dir.join("host");
    std::fs::create_dir(&snap).map_err(s)?;
    fwdsim.host_dump(&snap, rns.name())?;
    let mut tap = Tap::open(rns)?;
    let ipt_before = nflab::iptables_save_c(rns)?;
    let snmp_before = nflab::proc_counters(rns)?;
    tap.clear()?;
    traffic(topo, &mut rep.checks)?;
    std::thread::sleep(Duration::from_millis(20));
    let seen = tap.seen()?.to_vec();
    let ipt_after = nflab::iptables_save_c(rns)?;
    let snmp_after = nflab::proc_counters(rns)?;
    let obs = Observation::split(&seen, devs, of_the_flows);
    rep.description.push_str(&nflab::describe(&obs));
    rep.frames = obs.received.len();
    if !obs.sent_first.is_empty() && scope == Scope::Full {
        rep.problems.push(format!(
            "{} frame(s) sent before any was received",
            obs.sent_first.len()
        ));
    }
    let cap = dir.join("capture.pcapng");
    obs.write_capture(&cap, devs)?;
    let run = nflab::replay(&fwdsim.bin, &cap, &snap, &dir)?;
    if !run.stderr.is_empty() {
        rep.description
            .push_str(&format!("  fwdsim stderr: {}\n", run.stderr));
    }
    let kernel_snmp = snmp::delta(&snmp_before, &snmp_after);
    let kernel_ipt = nflab::ipt_delta(&ipt_before, &ipt_after);
    rep.disagreements = match scope {
        Scope::Full => nflab::compare(&obs, Some(&kernel_snmp), &kernel_ipt, &run),
        Scope::Received => nflab::compare(&obs, None, &nflab::input_chains_only(&kernel_ipt), &run),
    };
    rep.description.push_str(&format!(
        "  kernel snmp: {}\n  fwdsim snmp: {}\n",
        snmp::render(&snmp::compared(&kernel_snmp)),
        snmp::render(&snmp::compared(&run.snmp))
    ));
    if std::env::var_os("FWDSIM_KEEP").is_some() {
        let to = std::env::temp_dir().join(format!(
            "fwdsim-nfself-kept-{}-{}",
            std::process::id(),
            rules
        ));
        let _ = std::fs::remove_dir_all(&to);
        let _ = crate::netns::run_checked(
            "cp",
            &["-r", &dir.display().to_string(), &to.display().to_string()],
        );
        rep.description
            .push_str(&format!("  kept (FWDSIM_KEEP): {}\n", to.display()));
    }
    Ok(())
}

fn ip(a: &str) -> Ipv4Addr {
    a.parse().expect("a literal IPv4 address")
}

/// `rpath.sh`: ns1 (v0 192.168.23.2/24 and 192.168.42.2/24) — ns2 (v0
/// 192.168.23.1/24, dummy d0 192.168.42.1/24, rp_filter 0), with ns2's
/// raw PREROUTING rules `-s 192.168.0.0/16 -m rpfilter` and the same with
/// `--invert` (the script's iptables half, loaded as it loads them; its
/// nft half, `fib saddr . iif oif exists`, is the same check). Test 1: a
/// ping from 192.168.42.2 to 192.168.42.1 arrives on v0 but is routed back
/// through d0: it fails, only the `--invert` rule counts. Test 2: a ping
/// to 192.168.23.1 succeeds and only the plain rule counts. The script's
/// second run with v0 in a VRF is left out (fwdsim has no l3mdev). The
/// kernel here has no dummy driver: d0 is a veth whose peer sits in a
/// namespace of its own with no address (the replies sent there are lost,
/// as on a dummy), with a permanent neighbour for 192.168.42.2.
pub fn rpath(fwdsim: &Fwdsim, id: u16) -> CaseReport {
    let name = "rpath.sh";
    let build = || -> Result<Topo, String> {
        let t = Topo::new(&["ns1", "ns2", "sink"])?;
        t.sysctl(
            "ns2",
            &[
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.default.rp_filter", "0"),
            ],
        )?;
        t.veth(
            ("ns1", "v0", "02:00:00:00:23:02"),
            ("ns2", "v0", "02:00:00:00:23:01"),
        )?;
        t.addr("ns1", "192.168.23.2/24", "v0")?;
        t.addr("ns2", "192.168.23.1/24", "v0")?;
        t.veth(
            ("ns2", "d0", "02:00:00:00:42:01"),
            ("sink", "d0", "02:00:00:00:42:02"),
        )?;
        t.neigh("ns2", "192.168.42.2", "02:00:00:00:42:02", "d0")?;
        t.addr("ns1", "192.168.42.2/24", "v0")?;
        t.addr("ns2", "192.168.42.1/24", "d0")?;
        for a in ["192.168.23.1", "192.168.42.1"] {
            t.neigh("ns1", a, "02:00:00:00:23:01", "v0")?;
        }
        for a in ["192.168.23.2", "192.168.42.2"] {
            t.neigh("ns2", a, "02:00:00:00:23:02", "v0")?;
        }
        nflab::iptables_restore(
            t.ns("ns2"),
            "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A PREROUTING -s 192.168.0.0/16 -m rpfilter\n\
             -A PREROUTING -s 192.168.0.0/16 -m rpfilter --invert\n\
             COMMIT\n",
        )?;
        Ok(t)
    };
    let topo = match build() {
        Ok(t) => t,
        Err(e) => return failed(name, e),
    };
    const PLAIN: &str = "-A PREROUTING -s 192.168.0.0/16 -m rpfilter";
    const INVERT: &str = "-A PREROUTING -s 192.168.0.0/16 -m rpfilter --invert";
    differential(fwdsim, name, &topo, "ns2", &["v0", "d0"], |t, checks| {
        let ns2 = t.ns("ns2");
        let counts = || -> Result<(u64, u64), String> {
            Ok((
                rule_packets(ns2, "raw", PLAIN)?,
                rule_packets(ns2, "raw", INVERT)?,
            ))
        };
        let c0 = counts()?;
        let r = nflab::ping(t.ns("ns1"), ip("192.168.42.1"), id, 1, 56, FAIL_WAIT)?;
        checks.push((
            format!("test 1: martian ping 192.168.42.1 fails ({r:?})"),
            r == PingResult::Nothing,
        ));
        let c1 = counts()?;
        checks.push((
            format!(
                "test 1: rpfilter does not match the martian, --invert does (+{}, +{})",
                c1.0 - c0.0,
                c1.1 - c0.1
            ),
            (c1.0 - c0.0, c1.1 - c0.1) == (0, 1),
        ));
        let r = nflab::ping(t.ns("ns1"), ip("192.168.23.1"), id, 2, 56, OK_WAIT)?;
        checks.push((
            format!("test 2: regular ping 192.168.23.1 succeeds ({r:?})"),
            r == PingResult::Reply,
        ));
        let c2 = counts()?;
        checks.push((
            format!(
                "test 2: rpfilter matches regular traffic, --invert does not (+{}, +{})",
                c2.0 - c1.0,
                c2.1 - c1.1
            ),
            (c2.0 - c1.0, c2.1 - c1.1) == (1, 0),
        ));
        Ok(())
    })
}

fn failed(name: &str, e: String) -> CaseReport {
    CaseReport {
        name: name.to_string(),
        problems: vec![format!("building the topology: {e}")],
        ..CaseReport::default()
    }
}

const R_V0: &str = "02:00:00:00:01:01";
const R_V1: &str = "02:00:00:00:02:01";
const NS1_MAC: &str = "02:00:00:00:01:99";
const NS2_MAC: &str = "02:00:00:00:02:99";

/// The router of nft_fib.sh and nft_nat.sh: `router` with veth0
/// 10.0.1.1/24 to ns1 `eth0` (`ns1_addr`, default via `ns1_gw`) and veth1
/// 10.0.2.1/24 to ns2 `eth0` 10.0.2.99/24 (default via 10.0.2.1),
/// forwarding on veth0 and veth1 (`conf.DEV.forwarding`, as the scripts
/// set it), rp_filter 0, permanent neighbours, `rules` loaded in the
/// router.
fn two_leg_router(ns1_addr: &str, ns1_gw: &str, rules: &str) -> Result<Topo, String> {
    let t = Topo::new(&["router", "ns1", "ns2"])?;
    t.veth(("router", "veth0", R_V0), ("ns1", "eth0", NS1_MAC))?;
    t.veth(("router", "veth1", R_V1), ("ns2", "eth0", NS2_MAC))?;
    t.addr("router", "10.0.1.1/24", "veth0")?;
    t.addr("router", "10.0.2.1/24", "veth1")?;
    t.addr("ns1", ns1_addr, "eth0")?;
    t.ip("ns1", &["route", "add", "default", "via", ns1_gw])?;
    t.addr("ns2", "10.0.2.99/24", "eth0")?;
    t.ip("ns2", &["route", "add", "default", "via", "10.0.2.1"])?;
    t.neigh("ns1", ns1_gw, R_V0, "eth0")?;
    t.neigh("ns2", "10.0.2.1", R_V1, "eth0")?;
    let host = ns1_addr.split('/').next().unwrap_or(ns1_addr);
    t.neigh("router", host, NS1_MAC, "veth0")?;
    t.neigh("router", "10.0.2.99", NS2_MAC, "veth1")?;
    t.sysctl(
        "router",
        &[
            ("net.ipv4.conf.veth0.forwarding", "1"),
            ("net.ipv4.conf.veth1.forwarding", "1"),
            ("net.ipv4.conf.all.rp_filter", "0"),
            ("net.ipv4.conf.veth0.rp_filter", "0"),
        ],
    )?;
    nflab::iptables_restore(t.ns("router"), rules)?;
    Ok(t)
}

/// The router's rule for nft_fib.sh's `fib saddr . iif oif missing drop`
/// (a filter chain at PREROUTING priority 0): no route back through the
/// input device, dropped. In iptables: `-m rpfilter --invert -j DROP` in
/// mangle PREROUTING (priority -150, after conntrack as the script's
/// chain; the iptables-nft translation of rpfilter is the same fib
/// expression).
const FIB_RULES: &str = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n\
    :FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
    -A PREROUTING -m rpfilter --invert -j DROP\nCOMMIT\n";

/// `nft_fib.sh`, first part: ns1 10.0.1.99 pings the router's 10.0.2.1
/// and ns2's 10.0.2.99 through a router whose PREROUTING drops what has
/// no route back through its input device ([`FIB_RULES`]): both succeed
/// and the drop rule counts nothing.
pub fn nft_fib(fwdsim: &Fwdsim, id: u16) -> CaseReport {
    let name = "nft_fib.sh (no unwanted drops)";
    let topo = match two_leg_router("10.0.1.99/24", "10.0.1.1", FIB_RULES) {
        Ok(t) => t,
        Err(e) => return failed(name, e),
    };
    differential(
        fwdsim,
        name,
        &topo,
        "router",
        &["veth0", "veth1"],
        |t, checks| {
            for (i, dst) in ["10.0.2.1", "10.0.2.99"].iter().enumerate() {
                let r = nflab::ping(t.ns("ns1"), ip(dst), id, i as u16 + 1, 56, OK_WAIT)?;
                checks.push((format!("ns1 reaches {dst} ({r:?})"), r == PingResult::Reply));
            }
            let n = rule_packets(
                t.ns("router"),
                "mangle",
                "-A PREROUTING -m rpfilter --invert -j DROP",
            )?;
            checks.push((format!("the fib/rpfilter rule dropped {n} packets"), n == 0));
            Ok(())
        },
    )
}

/// `nft_fib.sh`, second part: ns1 moved to 10.0.2.99/24 (default via
/// 10.0.2.1) on the router's veth0, whose only route back to 10.0.2.99 is
/// through veth1; the router drops what goes to 1.1.1.1 without a route
/// back through its input device (the script's `ip daddr 1.1.1.1 fib
/// saddr . iif oif missing counter drop`, here `-d 1.1.1.1 -m rpfilter
/// --invert -j DROP` in mangle PREROUTING): ns1's ping to 1.1.1.1 counts
/// one packet. The script's third part (policy routing with `fib ... oif
/// gt 0` in a forward chain) is left out: rpfilter exists only at
/// PREROUTING.
pub fn nft_fib_missing(fwdsim: &Fwdsim, id: u16) -> CaseReport {
    let name = "nft_fib.sh (fib oif missing drops)";
    let rules = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n\
        :FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
        -A PREROUTING -d 1.1.1.1/32 -m rpfilter --invert -j DROP\nCOMMIT\n";
    let topo = match two_leg_router("10.0.2.99/24", "10.0.2.1", rules) {
        Ok(t) => t,
        Err(e) => return failed(name, e),
    };
    differential(
        fwdsim,
        name,
        &topo,
        "router",
        &["veth0", "veth1"],
        |t, checks| {
            let line = "-A PREROUTING -d 1.1.1.1/32 -m rpfilter --invert -j DROP";
            let n0 = rule_packets(t.ns("router"), "mangle", line)?;
            checks.push((format!("the counter starts at {n0}"), n0 == 0));
            let r = nflab::ping(t.ns("ns1"), ip("1.1.1.1"), id, 1, 56, FAIL_WAIT)?;
            checks.push((
                format!("the ping to 1.1.1.1 gets nothing ({r:?})"),
                r == PingResult::Nothing,
            ));
            let n1 = rule_packets(t.ns("router"), "mangle", line)?;
            checks.push((
                format!("the fib/rpfilter rule dropped {n1} packet(s)"),
                n1 == 1,
            ));
            Ok(())
        },
    )
}

/// `nft_nat.sh`, `test_masquerade ip`: ns2 10.0.2.99 pings ns1 10.0.1.99
/// through ns0 (here `router`) with `meta oif veth0 masquerade` in a nat
/// postrouting chain, here `-A POSTROUTING -o veth0 -j MASQUERADE`: the
/// ping succeeds twice, and what reaches ns1 comes from 10.0.1.1, never
/// from 10.0.2.99 (the script reads this from ns1's counters; here from
/// the frames leaving veth0).
pub fn nft_nat_masquerade(fwdsim: &Fwdsim, id: u16) -> CaseReport {
    let name = "nft_nat.sh (test_masquerade ip)";
    let rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
        :POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o veth0 -j MASQUERADE\nCOMMIT\n";
    let topo = match two_leg_router("10.0.1.99/24", "10.0.1.1", rules) {
        Ok(t) => t,
        Err(e) => return failed(name, e),
    };
    differential(
        fwdsim,
        name,
        &topo,
        "router",
        &["veth0", "veth1"],
        |t, checks| {
            let mut tap = Tap::open(t.ns("ns1"))?;
            tap.clear()?;
            for seq in 1..=2u16 {
                let r = nflab::ping(t.ns("ns2"), ip("10.0.1.99"), id, seq, 56, OK_WAIT)?;
                checks.push((
                    format!("attempt {seq}: ns2 reaches ns1 with masquerade ({r:?})"),
                    r == PingResult::Reply,
                ));
            }
            let srcs: Vec<Ipv4Addr> = tap
                .seen()?
                .iter()
                .filter(|f| !f.outgoing)
                .filter_map(|f| nflab::ipv4_of(&f.frame))
                .filter(|(_, _, p)| *p == 1)
                .map(|(s, _, _)| s)
                .collect();
            checks.push((
                format!("ns1 sees the requests from {srcs:?}, all 10.0.1.1"),
                srcs.len() == 2 && srcs.iter().all(|s| *s == ip("10.0.1.1")),
            ));
            Ok(())
        },
    )
}

/// `conntrack_icmp_related.sh`: nsclient1 — nsrouter1 — nsrouter2 —
/// nsclient2, the last link at MTU 1280, nsrouter1 masquerading ICMP out
/// of its veth0. The routers' forward chains (the script's `inet filter`
/// with counters `related` and `unknown`) in iptables-nft's translation:
/// `-p icmp -m icmp --icmp-type 3 -m conntrack --ctstate RELATED -j
/// ACCEPT`, `-p icmp -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT`,
/// `-j DROP`; nsrouter1's `ip protocol icmp oifname "veth0" masquerade`
/// is `-A POSTROUTING -o veth0 -p icmp -j MASQUERADE`. A 1000-byte DF
/// ping from nsclient1 to nsclient2 succeeds with no RELATED and no
/// unknown packet; a 1300-byte DF ping fails with "fragmentation needed"
/// from nsrouter2, which nsrouter1 sees as RELATED (one packet, 576
/// bytes) and sends on, de-NATed, to nsclient1. fwdsim replays
/// nsrouter1. The script's redirect half (the client's input chain) is
/// left out.
pub fn conntrack_icmp_related(fwdsim: &Fwdsim, id: u16) -> CaseReport {
    let name = "conntrack_icmp_related.sh";
    const FORWARD: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
        -A FORWARD -p icmp -m icmp --icmp-type 3 -m conntrack --ctstate RELATED -j ACCEPT\n\
        -A FORWARD -p icmp -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT\n\
        -A FORWARD -j DROP\nCOMMIT\n";
    const RELATED: &str =
        "-A FORWARD -p icmp -m icmp --icmp-type 3 -m conntrack --ctstate RELATED -j ACCEPT";
    const UNKNOWN: &str = "-A FORWARD -j DROP";
    let build = || -> Result<Topo, String> {
        let t = Topo::new(&["nsclient1", "nsrouter1", "nsrouter2", "nsclient2"])?;
        let (c1, r1a, r1b, r2a, r2b, c2) = (
            "02:00:00:00:01:02",
            "02:00:00:00:01:01",
            "02:00:00:00:03:01",
            "02:00:00:00:03:10",
            "02:00:00:00:02:01",
            "02:00:00:00:02:02",
        );
        t.veth(("nsclient1", "veth0", c1), ("nsrouter1", "eth1", r1a))?;
        t.veth(("nsclient2", "veth0", c2), ("nsrouter2", "eth1", r2b))?;
        t.veth(("nsrouter1", "veth0", r1b), ("nsrouter2", "eth2", r2a))?;
        t.ip("nsrouter2", &["link", "set", "eth1", "mtu", "1280"])?;
        t.ip("nsclient2", &["link", "set", "veth0", "mtu", "1280"])?;
        t.addr("nsclient1", "192.168.1.2/24", "veth0")?;
        t.addr("nsclient2", "192.168.2.2/24", "veth0")?;
        t.ip(
            "nsclient1",
            &["route", "add", "default", "via", "192.168.1.1"],
        )?;
        t.ip(
            "nsclient2",
            &["route", "add", "default", "via", "192.168.2.1"],
        )?;
        t.addr("nsrouter1", "192.168.1.1/24", "eth1")?;
        t.addr("nsrouter1", "192.168.3.1/24", "veth0")?;
        t.ip(
            "nsrouter1",
            &["route", "add", "default", "via", "192.168.3.10"],
        )?;
        t.addr("nsrouter2", "192.168.2.1/24", "eth1")?;
        t.addr("nsrouter2", "192.168.3.10/24", "eth2")?;
        t.ip(
            "nsrouter2",
            &["route", "add", "default", "via", "192.168.3.1"],
        )?;
        t.neigh("nsclient1", "192.168.1.1", r1a, "veth0")?;
        t.neigh("nsrouter1", "192.168.1.2", c1, "eth1")?;
        t.neigh("nsrouter1", "192.168.3.10", r2a, "veth0")?;
        t.neigh("nsrouter2", "192.168.3.1", r1b, "eth2")?;
        t.neigh("nsrouter2", "192.168.2.2", c2, "eth1")?;
        t.neigh("nsclient2", "192.168.2.1", r2b, "veth0")?;
        for r in ["nsrouter1", "nsrouter2"] {
            t.sysctl(r, &[("net.ipv4.conf.all.forwarding", "1")])?;
        }
        nflab::iptables_restore(t.ns("nsrouter2"), FORWARD)?;
        nflab::iptables_restore(
            t.ns("nsrouter1"),
            &format!(
                "{FORWARD}*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
                 :POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o veth0 -p icmp -j MASQUERADE\nCOMMIT\n"
            ),
        )?;
        Ok(t)
    };
    let topo = match build() {
        Ok(t) => t,
        Err(e) => return failed(name, e),
    };
    differential(
        fwdsim,
        name,
        &topo,
        "nsrouter1",
        &["eth1", "veth0"],
        |t, checks| {
            let counts = |r: &str| -> Result<(u64, u64), String> {
                Ok((
                    rule_packets(t.ns(r), "filter", RELATED)?,
                    rule_packets(t.ns(r), "filter", UNKNOWN)?,
                ))
            };
            let r = nflab::ping(t.ns("nsclient1"), ip("192.168.2.2"), id, 1, 1000, OK_WAIT)?;
            checks.push((
                format!("1000-byte DF ping to 192.168.2.2 succeeds ({r:?})"),
                r == PingResult::Reply,
            ));
            for rt in ["nsrouter1", "nsrouter2"] {
                let c = counts(rt)?;
                checks.push((
                    format!("{rt}: related {} and unknown {} after it", c.0, c.1),
                    c == (0, 0),
                ));
            }
            let r = nflab::ping(t.ns("nsclient1"), ip("192.168.2.2"), id, 2, 1300, FAIL_WAIT)?;
            checks.push((
                format!(
                    "1300-byte DF ping fails with fragmentation needed from 192.168.3.10 ({r:?})"
                ),
                r == PingResult::Error(3, 4, ip("192.168.3.10")),
            ));
            let c = counts("nsrouter2")?;
            checks.push((
                format!("nsrouter2 made the error: related {} unknown {}", c.0, c.1),
                c == (0, 0),
            ));
            let rel = nflab::iptables_save_c(t.ns("nsrouter1"))?
                .into_iter()
                .find(|((tb, l, _), _)| tb == "filter" && l == RELATED)
                .map(|(_, v)| v);
            checks.push((
                format!("nsrouter1 saw it RELATED: {rel:?} (packets, bytes)"),
                rel == Some((1, 576)),
            ));
            Ok(())
        },
    )
}

/// `nft_nat.sh`, `test_local_dnat ip`: ns0 (here `router`) pings ns1's
/// 10.0.1.99 with `ip daddr 10.0.1.99 dnat to 10.0.2.99` in a nat output
/// chain, here `-A OUTPUT -d 10.0.1.99/32 -j DNAT --to-destination
/// 10.0.2.99`: the request leaves veth1 for ns2, nothing goes to ns1, and
/// the reply from 10.0.2.99 is translated back and answers the ping. After
/// `iptables -t nat -F OUTPUT` (the script's chain flush) the same ping
/// reaches ns1 itself. The request is the router's own, so the replay
/// holds only the reply, and without the conntrack entry the request made
/// (the snapshot is taken before it) ([`Scope::Received`]); the flushed
/// half is checked on the kernel only.
pub fn nft_nat_local_dnat(fwdsim: &Fwdsim, id: u16) -> CaseReport {
    let name = "nft_nat.sh (test_local_dnat ip)";
    let rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
        :POSTROUTING ACCEPT [0:0]\n-A OUTPUT -d 10.0.1.99/32 -j DNAT --to-destination 10.0.2.99\n\
        COMMIT\n";
    let topo = match two_leg_router("10.0.1.99/24", "10.0.1.1", rules) {
        Ok(t) => t,
        Err(e) => return failed(name, e),
    };
    let sent_to = |tap: &mut Tap| -> Result<Vec<(String, Ipv4Addr)>, String> {
        Ok(tap
            .seen()?
            .iter()
            .filter(|f| f.outgoing)
            .filter_map(|f| nflab::ipv4_of(&f.frame).map(|(_, d, p)| (f.dev.clone(), d, p)))
            .filter(|(_, _, p)| *p == 1)
            .map(|(dev, d, _)| (dev, d))
            .collect())
    };
    let mut rep = differential_scoped(
        fwdsim,
        name,
        &topo,
        "router",
        &["veth0", "veth1"],
        Scope::Received,
        |t, checks| {
            let mut tap = Tap::open(t.ns("router"))?;
            tap.clear()?;
            let r = nflab::ping(t.ns("router"), ip("10.0.1.99"), id, 1, 56, OK_WAIT)?;
            checks.push((
                format!("ping 10.0.1.99 answered through the DNAT ({r:?})"),
                r == PingResult::Reply,
            ));
            let out = sent_to(&mut tap)?;
            checks.push((
                format!("the request left as {out:?}: veth1 to 10.0.2.99 only"),
                out == [("veth1".to_string(), ip("10.0.2.99"))],
            ));
            Ok(())
        },
    );
    let mut flushed = || -> Result<(), String> {
        topo.ns("router")
            .exec(&["iptables", "-t", "nat", "-F", "OUTPUT"])
            .map_err(s)?;
        let mut tap = Tap::open(topo.ns("router"))?;
        tap.clear()?;
        let r = nflab::ping(topo.ns("router"), ip("10.0.1.99"), id, 2, 56, OK_WAIT)?;
        rep.checks.push((
            format!("after the flush, ping 10.0.1.99 is answered ({r:?})"),
            r == PingResult::Reply,
        ));
        let out = sent_to(&mut tap)?;
        rep.checks.push((
            format!("after the flush the request left as {out:?}: veth0 to 10.0.1.99"),
            out == [("veth0".to_string(), ip("10.0.1.99"))],
        ));
        Ok(())
    };
    if let Err(e) = flushed() {
        rep.problems.push(format!("after the flush: {e}"));
    }
    rep
}
