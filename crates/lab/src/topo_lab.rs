//! The kernel differential suite of topologies (issue 8, "How it is
//! proved"): random topologies of 3 to 6 namespaces built for real, dumped
//! with `fwdsim topo dump --netns ...`, and packets sent from a
//! namespace's own stack through real sockets, captured on every device.
//!
//! - [`TopoSpec::random`]: a seeded random tree of namespaces `n0..nN`.
//!   Each new namespace hangs off an earlier one, by a veth pair of its
//!   own or as a port of the earlier one's bridge `br0` (1 to 4 ports).
//!   Every link or bridge is a subnet `10.K.0.0/24`; the parent side is
//!   `.1`, children `.2` and up. A child routes `default` to its parent; a
//!   parent routes each subnet below a child via that child (one route is
//!   sometimes left out). Forwarding, `rp_filter` and a few stateless
//!   iptables rules (DROP or REJECT of one protocol or port, in FORWARD or
//!   INPUT) are drawn per namespace; some namespaces listen on UDP 5001
//!   and TCP 5002.
//! - [`LabTopo::build`]: the spec in namespaces `fws-<pid>-<n>` (deleted on
//!   drop, also on failure), IPv6 off, nothing outside them touched.
//! - [`LabTopo::dump`] / [`check_dump`]: `fwdsim topo dump DIR --netns
//!   fws-..=n0 ...` and whether it found exactly the veth pairs built.
//! - [`LabTopo::observe`]: per probe (ICMP echo from a raw socket, a UDP
//!   datagram, a TCP SYN from a non-blocking `connect`), every namespace's
//!   neighbour cache is flushed (so each probe starts as the dump does,
//!   with ARP to do), then the probe is sent from the test thread: veth
//!   delivery runs the whole path, replies included, in that thread's
//!   softirq before `send` returns. Recorded: the frames of every device
//!   (both directions, in order), the `skb:kfree_skb` events, and every
//!   namespace's `/proc/net/snmp` + `/proc/net/netstat` deltas.
//! - [`compare_with_fwdsim`]: the same probe with `fwdsim send ... -j
//!   --out FRAMES.pcapng` on the dump, compared on the frames of every
//!   device (IP ID, checksums, ports chosen by the kernel and TCP sequence
//!   numbers and options masked), the fate and its drop reason in the
//!   namespace where it happened, the ICMP that came back, and the
//!   counters.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn, connect,
    recvfrom, sendto, socket,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::error::{LabError, Result};
use crate::netns::Netns;
use crate::packet::ktrace::{DropEvent, KfreeTrace};
use crate::packet::snmp::{self, Counters};
use crate::packet::wire::{enter, lab_err, packet_socket};

/// `PACKET_OUTGOING`: a frame the socket's device sent.
const PACKET_OUTGOING: u8 = 4;
/// The UDP port some namespaces listen on.
pub const UDP_PORT: u16 = 5001;
/// The TCP port some namespaces listen on.
pub const TCP_PORT: u16 = 5002;
/// A port nobody listens on.
pub const CLOSED_PORT: u16 = 7;

/// One interface of a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfaceSpec {
    /// Its name.
    pub name: String,
    /// Its address and prefix length, if any.
    pub addr: Option<(Ipv4Addr, u8)>,
    /// The bridge it is a port of.
    pub master: Option<String>,
}

/// One namespace of a random topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// `n0`, `n1`, ...: its name in the dump.
    pub name: String,
    /// Its interfaces (the bridge `br0` first when it has one).
    pub ifaces: Vec<IfaceSpec>,
    /// Whether `br0` is a bridge made here.
    pub bridge: bool,
    /// Routes, as `ip route add` words.
    pub routes: Vec<String>,
    /// `net.ipv4.ip_forward`.
    pub forward: bool,
    /// `net.ipv4.conf.all.rp_filter`.
    pub rp_filter: u8,
    /// `iptables` rules of the filter table (`-A CHAIN ...`).
    pub rules: Vec<String>,
    /// Listens on UDP [`UDP_PORT`] and TCP [`TCP_PORT`].
    pub listens: bool,
}

/// A veth pair: (namespace index, device name) at each end.
pub type Cable = ((usize, String), (usize, String));

/// A random topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopoSpec {
    /// The seed it was drawn from.
    pub seed: u64,
    /// The namespaces.
    pub nodes: Vec<NodeSpec>,
    /// The veth pairs.
    pub cables: Vec<Cable>,
}

/// A frame captured on a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// The device sent it (`PACKET_OUTGOING`).
    pub sent: bool,
    /// When the socket got it (`SO_TIMESTAMPNS`), nanoseconds: orders the
    /// frames of different devices.
    pub ts: i128,
    /// The frame.
    pub frame: Vec<u8>,
}

/// What a probe is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// An ICMP echo request.
    Icmp,
    /// A UDP datagram to a port.
    Udp(u16),
    /// A TCP SYN to a port.
    Tcp(u16),
}

/// A packet to send from a namespace's own stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The sending namespace.
    pub from: usize,
    /// The destination.
    pub dst: Ipv4Addr,
    /// What is sent.
    pub kind: ProbeKind,
}

impl Probe {
    /// `fwdsim send`'s words: `icmp DST`, `udp DST --port N`, `tcp DST --port N`.
    pub fn send_words(&self) -> Vec<String> {
        let mut v = match self.kind {
            ProbeKind::Icmp => vec!["icmp".to_string(), self.dst.to_string()],
            ProbeKind::Udp(p) => vec![
                "udp".into(),
                self.dst.to_string(),
                "--port".into(),
                p.to_string(),
            ],
            ProbeKind::Tcp(p) => vec![
                "tcp".into(),
                self.dst.to_string(),
                "--port".into(),
                p.to_string(),
            ],
        };
        v.push("--from".into());
        v.push(format!("n{}", self.from));
        v
    }
}

impl TopoSpec {
    /// A random topology of 3 to 6 namespaces (module documentation).
    pub fn random(seed: u64) -> TopoSpec {
        let mut rng = SmallRng::seed_from_u64(seed);
        let n = rng.gen_range(3..=6);
        let mut nodes: Vec<NodeSpec> = (0..n)
            .map(|i| NodeSpec {
                name: format!("n{i}"),
                ifaces: Vec::new(),
                bridge: false,
                routes: Vec::new(),
                forward: false,
                rp_filter: 0,
                rules: Vec::new(),
                listens: false,
            })
            .collect();
        let mut cables = Vec::new();
        // parent[i], the subnet index of i's uplink, and i's address on it.
        let mut parent = vec![usize::MAX; n];
        let mut up_subnet = vec![0u8; n];
        let mut up_addr = vec![Ipv4Addr::UNSPECIFIED; n];
        // Per node: its bridge's subnet and the ports used.
        let mut bridge_of: Vec<Option<(u8, u8)>> = vec![None; n];
        let mut next_subnet = 1u8;
        for i in 1..n {
            let p = rng.gen_range(0..i);
            parent[i] = p;
            let use_bridge = match bridge_of[p] {
                Some((_, ports)) => ports < 4 && rng.gen_bool(0.7),
                None => rng.gen_bool(0.4),
            };
            if use_bridge {
                if bridge_of[p].is_none() {
                    let k = next_subnet;
                    next_subnet += 1;
                    nodes[p].bridge = true;
                    nodes[p].ifaces.insert(
                        0,
                        IfaceSpec {
                            name: "br0".into(),
                            addr: Some((Ipv4Addr::new(10, k, 0, 1), 24)),
                            master: None,
                        },
                    );
                    bridge_of[p] = Some((k, 0));
                }
                let (k, ports) = bridge_of[p].unwrap_or((0, 0));
                bridge_of[p] = Some((k, ports + 1));
                let port = format!("p{i}");
                nodes[p].ifaces.push(IfaceSpec {
                    name: port.clone(),
                    addr: None,
                    master: Some("br0".into()),
                });
                let a = Ipv4Addr::new(10, k, 0, 2 + ports);
                nodes[i].ifaces.push(IfaceSpec {
                    name: "eth0".into(),
                    addr: Some((a, 24)),
                    master: None,
                });
                up_subnet[i] = k;
                up_addr[i] = a;
                cables.push(((p, port), (i, "eth0".to_string())));
            } else {
                let k = next_subnet;
                next_subnet += 1;
                let dev = format!("v{i}");
                nodes[p].ifaces.push(IfaceSpec {
                    name: dev.clone(),
                    addr: Some((Ipv4Addr::new(10, k, 0, 1), 24)),
                    master: None,
                });
                let a = Ipv4Addr::new(10, k, 0, 2);
                nodes[i].ifaces.push(IfaceSpec {
                    name: "eth0".into(),
                    addr: Some((a, 24)),
                    master: None,
                });
                up_subnet[i] = k;
                up_addr[i] = a;
                cables.push(((p, dev), (i, "eth0".to_string())));
            }
        }
        // The subnets below each node (its own bridge's and links' included).
        let mut below: Vec<BTreeSet<u8>> = vec![BTreeSet::new(); n];
        for i in (1..n).rev() {
            let mut s = below[i].clone();
            s.insert(up_subnet[i]);
            s.extend(
                nodes[i]
                    .ifaces
                    .iter()
                    .filter_map(|f| f.addr.map(|(a, _)| a.octets()[1])),
            );
            below[parent[i]].extend(s);
        }
        for i in 0..n {
            if i > 0 {
                let gw = Ipv4Addr::new(10, up_subnet[i], 0, 1);
                nodes[i].routes.push(format!("default via {gw}"));
            }
            // Routes to what lies below each child, via the child.
            let own: BTreeSet<u8> = nodes[i]
                .ifaces
                .iter()
                .filter_map(|f| f.addr.map(|(a, _)| a.octets()[1]))
                .collect();
            for c in (0..n).filter(|&c| c > 0 && parent[c] == i) {
                let mut subs: BTreeSet<u8> = BTreeSet::new();
                for j in (0..n).filter(|&j| j > 0 && parent[j] == c) {
                    subs.insert(up_subnet[j]);
                    subs.extend(below[j].iter().copied());
                }
                subs.extend(
                    nodes[c]
                        .ifaces
                        .iter()
                        .filter_map(|f| f.addr.map(|(a, _)| a.octets()[1])),
                );
                for k in subs.difference(&own) {
                    if rng.gen_bool(0.1) {
                        continue; // a route left out: no_route there
                    }
                    nodes[i]
                        .routes
                        .push(format!("10.{k}.0.0/24 via {}", up_addr[c]));
                }
            }
        }
        for node in &mut nodes {
            node.forward = rng.gen_bool(0.8);
            node.rp_filter = rng.gen_range(0..=2);
            // A snapshot records no sockets, so no namespace listens: every
            // port is closed on both sides.
            node.listens = false;
            if rng.gen_bool(0.3) {
                let rule = match rng.gen_range(0..5) {
                    0 => format!("-A FORWARD -p udp --dport {UDP_PORT} -j DROP"),
                    1 => format!(
                        "-A FORWARD -p tcp --dport {TCP_PORT} -j REJECT --reject-with tcp-reset"
                    ),
                    2 => "-A FORWARD -p icmp -j REJECT --reject-with icmp-host-prohibited".into(),
                    3 => "-A INPUT -p icmp -j DROP".into(),
                    _ => format!("-A INPUT -p udp --dport {UDP_PORT} -j REJECT"),
                };
                node.rules.push(rule);
            }
        }
        TopoSpec {
            seed,
            nodes,
            cables,
        }
    }

    /// Each namespace's distance in links from namespace `from`, by name.
    pub fn distances(&self, from: usize) -> BTreeMap<String, usize> {
        let mut d = vec![usize::MAX; self.nodes.len()];
        d[from] = 0;
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(x) = queue.pop_front() {
            for ((a, _), (b, _)) in &self.cables {
                for (p, q) in [(*a, *b), (*b, *a)] {
                    if p == x && d[q] == usize::MAX {
                        d[q] = d[x] + 1;
                        queue.push_back(q);
                    }
                }
            }
        }
        self.nodes
            .iter()
            .zip(d)
            .map(|(n, v)| (n.name.clone(), v))
            .collect()
    }

    /// Every address of the topology.
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        self.nodes
            .iter()
            .flat_map(|n| n.ifaces.iter().filter_map(|f| f.addr.map(|(a, _)| a)))
            .collect()
    }

    /// `count` random probes: to every kind of address of the topology and
    /// to one outside it, ICMP, UDP and TCP, to open and closed ports.
    pub fn probes(&self, count: usize) -> Vec<Probe> {
        let mut rng = SmallRng::seed_from_u64(self.seed ^ 0x7072_6f62);
        let addrs = self.addresses();
        (0..count)
            .map(|_| {
                let from = rng.gen_range(0..self.nodes.len());
                let dst = if rng.gen_bool(0.08) {
                    Ipv4Addr::new(192, 0, 2, 1)
                } else {
                    addrs[rng.gen_range(0..addrs.len())]
                };
                let port = |rng: &mut SmallRng, open| {
                    if rng.gen_bool(0.75) {
                        open
                    } else {
                        CLOSED_PORT
                    }
                };
                let kind = match rng.gen_range(0..3) {
                    0 => ProbeKind::Icmp,
                    1 => ProbeKind::Udp(port(&mut rng, UDP_PORT)),
                    _ => ProbeKind::Tcp(port(&mut rng, TCP_PORT)),
                };
                Probe { from, dst, kind }
            })
            .collect()
    }

    /// Host `n1` behind router `n0` (a bridge `br0`, 10.1.0.0/24), which
    /// reaches 10.2.0.0/24 by router `n2` on the same bridge: `n0`
    /// forwards `n1`'s packets for `n3` (10.2.0.2) back out where they came
    /// from and sends `n1` an ICMP redirect to `n2`.
    pub fn redirect() -> TopoSpec {
        let iface = |name: &str, addr: Option<(Ipv4Addr, u8)>, master: Option<&str>| IfaceSpec {
            name: name.into(),
            addr,
            master: master.map(str::to_string),
        };
        let a = |o: [u8; 4]| Some((Ipv4Addr::from(o), 24));
        let node = |name: &str, ifaces, bridge, routes: &[&str], forward| NodeSpec {
            name: name.into(),
            ifaces,
            bridge,
            routes: routes.iter().map(|r| r.to_string()).collect(),
            forward,
            rp_filter: 0,
            rules: Vec::new(),
            listens: false,
        };
        TopoSpec {
            seed: 0,
            nodes: vec![
                node(
                    "n0",
                    vec![
                        iface("br0", a([10, 1, 0, 1]), None),
                        iface("p1", None, Some("br0")),
                        iface("p2", None, Some("br0")),
                    ],
                    true,
                    &["10.2.0.0/24 via 10.1.0.3"],
                    true,
                ),
                node(
                    "n1",
                    vec![iface("eth0", a([10, 1, 0, 2]), None)],
                    false,
                    &["default via 10.1.0.1"],
                    false,
                ),
                node(
                    "n2",
                    vec![
                        iface("eth0", a([10, 1, 0, 3]), None),
                        iface("v3", a([10, 2, 0, 1]), None),
                    ],
                    false,
                    &["default via 10.1.0.1"],
                    true,
                ),
                node(
                    "n3",
                    vec![iface("eth0", a([10, 2, 0, 2]), None)],
                    false,
                    &["default via 10.2.0.1"],
                    false,
                ),
            ],
            cables: vec![
                ((0, "p1".into()), (1, "eth0".into())),
                ((0, "p2".into()), (2, "eth0".into())),
                ((2, "v3".into()), (3, "eth0".into())),
            ],
        }
    }

    /// The topology in a few lines, for failure messages.
    pub fn describe(&self) -> String {
        let mut s = format!("topology seed {}:\n", self.seed);
        for n in &self.nodes {
            let ifs: Vec<String> = n
                .ifaces
                .iter()
                .map(|f| {
                    let mut t = f.name.clone();
                    if let Some((a, l)) = f.addr {
                        t.push_str(&format!(" {a}/{l}"));
                    }
                    if let Some(m) = &f.master {
                        t.push_str(&format!(" master {m}"));
                    }
                    t
                })
                .collect();
            s.push_str(&format!(
                "  {}: [{}] forward={} rp_filter={} routes={:?} rules={:?} listens={}\n",
                n.name,
                ifs.join(", "),
                n.forward as u8,
                n.rp_filter,
                n.routes,
                n.rules,
                n.listens
            ));
        }
        for ((a, da), (b, db)) in &self.cables {
            s.push_str(&format!("  link n{a}/{da} <-> n{b}/{db}\n"));
        }
        s
    }
}

/// A topology built in namespaces.
#[derive(Debug)]
pub struct LabTopo {
    /// The spec it was built from.
    pub spec: TopoSpec,
    /// The namespaces, in the spec's order.
    pub netns: Vec<Netns>,
}

impl LabTopo {
    /// Builds `spec` (module documentation).
    pub fn build(spec: &TopoSpec) -> Result<LabTopo> {
        let mut netns = Vec::new();
        for _ in &spec.nodes {
            let ns = Netns::new()?;
            // The ICMP rate limits stay the kernel's (fwdsim keeps their
            // state from one probe to the next, as the kernel does); ping
            // sockets for root; no IGMP reports for link-local groups (a
            // bridge joins 224.0.0.106 and reports it on a timer, which
            // the model does not send).
            ns.sysctl(&[
                ("net.ipv6.conf.all.disable_ipv6", "1"),
                ("net.ipv6.conf.default.disable_ipv6", "1"),
                ("net.ipv4.ping_group_range", "0 0"),
                ("net.ipv4.igmp_link_local_mcast_reports", "0"),
            ])?;
            netns.push(ns);
        }
        for (i, node) in spec.nodes.iter().enumerate() {
            if node.bridge {
                netns[i].ip(&["link", "add", "br0", "type", "bridge"])?;
            }
        }
        for ((a, da), (b, db)) in &spec.cables {
            netns[*a].ip(&[
                "link",
                "add",
                da,
                "type",
                "veth",
                "peer",
                "name",
                db,
                "netns",
                netns[*b].name(),
            ])?;
        }
        for (i, node) in spec.nodes.iter().enumerate() {
            let ns = &netns[i];
            // rp_filter and forwarding before the devices come up, so that
            // `all` and each device's own value agree.
            ns.sysctl(&[
                ("net.ipv4.ip_forward", if node.forward { "1" } else { "0" }),
                ("net.ipv4.conf.all.rp_filter", &node.rp_filter.to_string()),
                (
                    "net.ipv4.conf.default.rp_filter",
                    &node.rp_filter.to_string(),
                ),
            ])?;
            for f in &node.ifaces {
                if let Some(m) = &f.master {
                    ns.ip(&["link", "set", &f.name, "master", m])?;
                }
                ns.sysctl(&[(
                    &format!("net.ipv4.conf.{}.rp_filter", f.name),
                    &node.rp_filter.to_string(),
                )])?;
                ns.ip(&["link", "set", &f.name, "up"])?;
                if let Some((a, l)) = f.addr {
                    ns.ip(&["addr", "add", &format!("{a}/{l}"), "dev", &f.name])?;
                }
            }
            for r in &node.routes {
                let words: Vec<&str> = r.split_whitespace().collect();
                let mut argv = vec!["route", "add"];
                argv.extend(words);
                ns.ip(&argv)?;
            }
            for rule in &node.rules {
                let mut argv = vec!["iptables"];
                argv.extend(rule.split_whitespace());
                let out = ns.exec(&argv)?;
                if !out.status.success() {
                    return Err(LabError::from_output(&argv.join(" "), &out));
                }
            }
        }
        // Bridge ports leave the listening state at once (no STP), but let
        // the carrier settle.
        std::thread::sleep(Duration::from_millis(50));
        Ok(LabTopo {
            spec: spec.clone(),
            netns,
        })
    }

    /// The real namespace of node `i` (for setup a spec does not hold).
    pub fn netns(&self, i: usize) -> &Netns {
        &self.netns[i]
    }

    /// `--netns fws-..=nI` for every namespace.
    pub fn netns_args(&self) -> Vec<String> {
        self.netns
            .iter()
            .zip(&self.spec.nodes)
            .map(|(ns, n)| format!("{}={}", ns.name(), n.name))
            .collect()
    }

    /// Runs `fwdsim topo dump DIR --netns ...` with the binary `bin`.
    pub fn dump(&self, bin: &Path, dir: &Path) -> std::result::Result<(), String> {
        let mut cmd = std::process::Command::new(bin);
        cmd.args(["topo", "dump"]).arg(dir).arg("--netns");
        cmd.args(self.netns_args());
        let out = cmd
            .output()
            .map_err(|e| format!("running {}: {e}", bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "fwdsim topo dump failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    /// Sends every probe and records what the kernel did with each
    /// (module documentation). `trace` is drained per probe.
    pub fn observe(
        &self,
        probes: &[Probe],
        trace: &mut KfreeTrace,
    ) -> std::result::Result<Vec<KernelObs>, String> {
        self.observe_with(probes, trace, true, Duration::ZERO)
    }

    /// [`LabTopo::observe`], flushing every neighbour cache before each
    /// probe or not (`flush`), and waiting `gap` between probes (so that
    /// what the kernel learned from one probe, an ARP answer or a
    /// redirect, and its rate limits' refill shape the next).
    pub fn observe_with(
        &self,
        probes: &[Probe],
        trace: &mut KfreeTrace,
        flush: bool,
        gap: Duration,
    ) -> std::result::Result<Vec<KernelObs>, String> {
        let mut w = Wire::open(self).map_err(|e| format!("opening the sockets: {e}"))?;
        let mut out = Vec::new();
        let start = std::time::Instant::now();
        // The kernel's own clock at the first probe, when it can be read.
        let mut first_jiffies = None;
        for (i, p) in probes.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(gap);
            }
            for ns in self.netns.iter().filter(|_| flush) {
                ns.ip(&["neigh", "flush", "all"])
                    .map_err(|e| format!("probe {i}: {e}"))?;
            }
            w.drain_all();
            trace.drain_all();
            let before = w.counters();
            // The time of the probe on the kernel's clock: the redirect and
            // ICMP limits count whole jiffies, so a wall-clock gap close to
            // a limit can fall on either side of it depending on where
            // within a jiffy each probe went. Read just before sending.
            let at = match kernel_jiffies() {
                Some(j) => {
                    let j0 = *first_jiffies.get_or_insert(j);
                    Duration::from_nanos(j.saturating_sub(j0) * (1_000_000_000 / KERNEL_HZ))
                }
                None => start.elapsed(),
            };
            let sent = w.send(p).map_err(|e| format!("probe {i} ({p:?}): {e}"))?;
            std::thread::sleep(Duration::from_millis(2));
            let frames = w.drain_all();
            let after = w.counters();
            let drops = trace.drain();
            w.close_tcp();
            let counters = before
                .iter()
                .zip(&after)
                .map(|(b, a)| snmp::delta(b, a))
                .collect();
            out.push(KernelObs {
                at,
                flushed: flush,
                sport: sent.sport,
                errno: sent.errno,
                frames,
                drops,
                counters,
            });
        }
        // The TCP closes' own frames and anything late.
        std::thread::sleep(Duration::from_millis(20));
        w.drain_all();
        Ok(out)
    }
}

/// `CONFIG_HZ` of the kernels this runs on (`net.ipv4.route.redirect_load`
/// = HZ/50 = 5), the same as fwdsim's.
const KERNEL_HZ: u64 = 250;

/// The kernel's `jiffies` now, from `/proc/timer_list` (root only).
fn kernel_jiffies() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/timer_list").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("jiffies: "))
        .and_then(|v| v.trim().parse().ok())
}

/// What the kernel did with one probe.
#[derive(Clone, Debug, Default)]
pub struct KernelObs {
    /// When it was sent, since the first probe: on the kernel's clock in
    /// whole jiffies where `/proc/timer_list` can be read, else wall time.
    pub at: Duration,
    /// Every neighbour cache was flushed just before.
    pub flushed: bool,
    /// The source port the kernel chose (UDP, TCP).
    pub sport: Option<u16>,
    /// The error the sending call returned (`ENETUNREACH`, ...): the
    /// stack refused the packet before it left.
    pub errno: Option<String>,
    /// `nI/DEV` -> the frames of the device, in order.
    pub frames: BTreeMap<String, Vec<Captured>>,
    /// The `skb:kfree_skb` events meanwhile.
    pub drops: Vec<DropEvent>,
    /// Every namespace's counter deltas, in the spec's order.
    pub counters: Vec<Counters>,
}

impl KernelObs {
    /// The namespace and device that last received the probe itself (its
    /// IPv4 destination and ID, as it left the sender; NAT may change the
    /// source), where its fate was decided; the sender's when it never
    /// left.
    /// The copy received with the lowest TTL is the last; among copies of
    /// one TTL (a bridge's), the farthest receiver: `dist` is each
    /// namespace's distance from the sender in links (a packet's copies
    /// keep one timestamp across namespaces, so time alone cannot order
    /// them).
    pub fn last_received(
        &self,
        from: &str,
        dist: &BTreeMap<String, usize>,
    ) -> Option<(String, Vec<u8>)> {
        let key = |f: &[u8]| -> Option<([u8; 4], [u8; 2])> {
            (f.len() >= 34 && f[12] == 0x08 && f[13] == 0)
                .then(|| ([f[30], f[31], f[32], f[33]], [f[18], f[19]]))
        };
        let prefix = format!("{from}/");
        let probe = self
            .frames
            .iter()
            .filter(|(d, _)| d.starts_with(&prefix))
            .flat_map(|(_, fs)| fs.iter().filter(|c| c.sent))
            .filter_map(|c| Some((c.ts, key(&c.frame)?)))
            .min_by_key(|x| x.0)
            .map(|x| x.1);
        let Some(probe) = probe else {
            return Some((from.to_string(), Vec::new()));
        };
        self.frames
            .iter()
            .flat_map(|(d, fs)| {
                fs.iter()
                    .filter(|c| !c.sent && key(&c.frame) == Some(probe))
                    .map(move |c| {
                        let ns = d.split('/').next().unwrap_or("");
                        // Each forward lowers the TTL: the copy with the
                        // lowest was received last (a packet looping
                        // between two routers too).
                        let ttl = std::cmp::Reverse(c.frame[22]);
                        (
                            (ttl, dist.get(ns).copied().unwrap_or(0), c.ts),
                            d.clone(),
                            c.frame.clone(),
                        )
                    })
            })
            .max_by_key(|x| x.0)
            .map(|(_, d, f)| (d.split('/').next().unwrap_or("").to_string(), f))
            .or_else(|| Some((from.to_string(), Vec::new())))
    }
}

/// What sending a probe gave.
struct Sent {
    sport: Option<u16>,
    errno: Option<String>,
}

/// The sockets of a topology: a capture socket on every device, a raw
/// ICMP and a UDP socket per namespace, listeners, counter files.
struct Wire {
    captures: Vec<(String, OwnedFd)>,
    icmp: Vec<OwnedFd>,
    udp: Vec<std::net::UdpSocket>,
    names: Vec<String>,
    snmp: Vec<(File, File)>,
    _listeners: Vec<ListenerSet>,
    pending_tcp: Option<OwnedFd>,
    ident: u16,
}

struct ListenerSet {
    _udp: std::net::UdpSocket,
    _tcp: std::net::TcpListener,
}

impl Wire {
    fn open(t: &LabTopo) -> Result<Wire> {
        let names: Vec<String> = t.netns.iter().map(|n| n.name().to_string()).collect();
        let spec = t.spec.clone();
        let th = std::thread::Builder::new()
            .name("fws-topo-setns".into())
            .spawn(move || -> Result<Wire> {
                let mut w = Wire {
                    captures: Vec::new(),
                    icmp: Vec::new(),
                    udp: Vec::new(),
                    names: names.clone(),
                    snmp: Vec::new(),
                    _listeners: Vec::new(),
                    pending_tcp: None,
                    ident: 0x4000,
                };
                for (name, node) in names.iter().zip(&spec.nodes) {
                    enter(name)?;
                    // lo too: what the namespace sends itself.
                    for f in node.ifaces.iter().map(|f| f.name.as_str()).chain(["lo"]) {
                        w.captures
                            .push((format!("{}/{f}", node.name), packet_socket(f)?));
                    }
                    // A ping socket (as `ping` uses), so that the echo reply
                    // has a socket to go to, as with `fwdsim send icmp`.
                    let raw = socket(
                        AddressFamily::Inet,
                        SockType::Datagram,
                        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                        SockProtocol::Icmp,
                    )
                    .map_err(|e| lab_err("ping socket", e))?;
                    w.icmp.push(raw);
                    let io = |what: &str, source| LabError::Io {
                        path: what.to_string(),
                        source,
                    };
                    let u =
                        std::net::UdpSocket::bind("0.0.0.0:0").map_err(|e| io("udp socket", e))?;
                    u.set_nonblocking(true).map_err(|e| io("udp socket", e))?;
                    w.udp.push(u);
                    if node.listens {
                        let u = std::net::UdpSocket::bind(("0.0.0.0", UDP_PORT))
                            .map_err(|e| io("udp listener", e))?;
                        u.set_nonblocking(true).map_err(|e| io("udp listener", e))?;
                        let l = std::net::TcpListener::bind(("0.0.0.0", TCP_PORT))
                            .map_err(|e| io("tcp listener", e))?;
                        w._listeners.push(ListenerSet { _udp: u, _tcp: l });
                    }
                    let open = |p: &str| File::open(p).map_err(|e| io(p, e));
                    w.snmp.push((
                        open("/proc/thread-self/net/snmp")?,
                        open("/proc/thread-self/net/netstat")?,
                    ));
                }
                Ok(w)
            })
            .map_err(|e| lab_err("spawning the setns thread", e))?;
        th.join()
            .map_err(|_| lab_err("the setns thread", "panicked"))?
    }

    fn drain_all(&mut self) -> BTreeMap<String, Vec<Captured>> {
        use nix::sys::socket::{ControlMessageOwned, recvmsg};
        use std::io::IoSliceMut;
        let mut out = BTreeMap::new();
        let mut buf = vec![0u8; 65536];
        for (dev, fd) in &self.captures {
            let mut v = Vec::new();
            loop {
                let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
                let mut iov = [IoSliceMut::new(&mut buf)];
                match recvmsg::<LinkAddr>(
                    fd.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                ) {
                    Ok(m) => {
                        let sent = m.address.is_some_and(|a| a.pkttype() == PACKET_OUTGOING);
                        let mut ts = 0i128;
                        if let Ok(cs) = m.cmsgs() {
                            for c in cs {
                                if let ControlMessageOwned::ScmTimestampns(t) = c {
                                    ts = i128::from(t.tv_sec()) * 1_000_000_000
                                        + i128::from(t.tv_nsec());
                                }
                            }
                        }
                        let n = m.bytes;
                        v.push(Captured {
                            sent,
                            ts,
                            frame: buf[..n].to_vec(),
                        });
                    }
                    Err(Errno::EINTR) => continue,
                    Err(_) => break,
                }
            }
            if !v.is_empty() {
                out.insert(dev.clone(), v);
            }
        }
        // Replies that reached the senders' sockets.
        for fd in &self.icmp {
            while recvfrom::<SockaddrIn>(fd.as_raw_fd(), &mut buf).is_ok() {}
        }
        for u in &self.udp {
            while u.recv_from(&mut buf).is_ok() {}
        }
        out
    }

    fn counters(&mut self) -> Vec<Counters> {
        self.snmp
            .iter_mut()
            .map(|(s, n)| {
                let mut t = String::new();
                for f in [s, n] {
                    let _ = f.seek(SeekFrom::Start(0));
                    let _ = f.read_to_string(&mut t);
                }
                snmp::parse_proc(&t)
            })
            .collect()
    }

    /// Sends the probe.
    fn send(&mut self, p: &Probe) -> Result<Sent> {
        match p.kind {
            ProbeKind::Icmp => {
                self.ident = self.ident.wrapping_add(1);
                let mut m = vec![8u8, 0, 0, 0];
                m.extend_from_slice(&self.ident.to_be_bytes());
                m.extend_from_slice(&1u16.to_be_bytes());
                // ping's 56 bytes of payload, as `fwdsim send icmp` sends.
                m.extend(0..56u8);
                let c = inet_checksum(&m);
                m[2..4].copy_from_slice(&c.to_be_bytes());
                let to = SockaddrIn::from(SocketAddrV4::new(p.dst, 0));
                // An error of the stack (no route) is the probe's fate.
                let fd = self.icmp[p.from].as_raw_fd();
                let r = sendto(fd, &m, &to, MsgFlags::empty());
                // The ping socket's port is the echo identifier.
                let sport = nix::sys::socket::getsockname::<SockaddrIn>(fd)
                    .ok()
                    .map(|a| a.port())
                    .filter(|&p| p != 0);
                Ok(Sent {
                    sport,
                    errno: r.err().map(|e| format!("{e:?}")),
                })
            }
            ProbeKind::Udp(port) => {
                let u = &self.udp[p.from];
                // 5 bytes, as `fwdsim send udp` sends.
                let errno = match u.send_to(&[0, 1, 2, 3, 4], (p.dst, port)) {
                    Ok(_) => None,
                    // An error the stack returns (no route): the fate, not a lab failure.
                    Err(e) => match e.raw_os_error() {
                        Some(n) => Some(format!("{:?}", Errno::from_raw(n))),
                        None => {
                            return Err(LabError::Io {
                                path: "udp send".into(),
                                source: e,
                            });
                        }
                    },
                };
                Ok(Sent {
                    sport: u.local_addr().ok().map(|a| a.port()),
                    errno,
                })
            }
            ProbeKind::Tcp(port) => {
                // A fresh socket per SYN, made in the sending namespace.
                let fd = tcp_socket_in(&self.names[p.from])?;
                let to = SockaddrIn::from(SocketAddrV4::new(p.dst, port));
                let errno = match connect(fd.as_raw_fd(), &to) {
                    Ok(()) | Err(Errno::EINPROGRESS) => None,
                    Err(e) => Some(format!("{e:?}")),
                };
                let sport = nix::sys::socket::getsockname::<SockaddrIn>(fd.as_raw_fd())
                    .ok()
                    .map(|a| a.port())
                    .filter(|&p| p != 0);
                self.pending_tcp = Some(fd);
                Ok(Sent { sport, errno })
            }
        }
    }

    fn close_tcp(&mut self) {
        self.pending_tcp = None;
    }
}

/// A new non-blocking TCP socket in the namespace `name` (made by a
/// thread that enters it; the socket stays in it).
fn tcp_socket_in(name: &str) -> Result<OwnedFd> {
    let name = name.to_string();
    std::thread::Builder::new()
        .name("fws-topo-tcp".into())
        .spawn(move || -> Result<OwnedFd> {
            enter(&name)?;
            socket(
                AddressFamily::Inet,
                SockType::Stream,
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map_err(|e| lab_err("tcp socket", e))
        })
        .map_err(|e| lab_err("spawning the setns thread", e))?
        .join()
        .map_err(|_| lab_err("the setns thread", "panicked"))?
}

/// The Internet checksum (RFC 1071).
pub fn inet_checksum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        s += u32::from(w);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Whether the dump in `dir` found exactly the veth pairs of `spec`, and
/// holds a snapshot of every namespace; the differences, one line each.
pub fn check_dump(spec: &TopoSpec, dir: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    for n in &spec.nodes {
        if !dir.join(&n.name).join("addr.json").is_file() {
            bad.push(format!("{}/addr.json missing", n.name));
        }
    }
    let text = match std::fs::read_to_string(dir.join("topology.toml")) {
        Ok(t) => t,
        Err(e) => return vec![format!("topology.toml: {e}")],
    };
    let v: toml::Value = match toml::from_str(&text) {
        Ok(v) => v,
        Err(e) => return vec![format!("topology.toml: {e}")],
    };
    let pair = |a: &str, b: &str| {
        let mut p = [a.to_string(), b.to_string()];
        p.sort();
        p
    };
    let got: BTreeSet<[String; 2]> = v
        .get("link")
        .and_then(|l| l.as_array())
        .map(|l| {
            l.iter()
                .map(|t| {
                    pair(
                        t.get("a").and_then(|x| x.as_str()).unwrap_or(""),
                        t.get("b").and_then(|x| x.as_str()).unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let want: BTreeSet<[String; 2]> = spec
        .cables
        .iter()
        .map(|((a, da), (b, db))| pair(&format!("n{a}/{da}"), &format!("n{b}/{db}")))
        .collect();
    for l in want.difference(&got) {
        bad.push(format!("link {} <-> {} not found", l[0], l[1]));
    }
    for l in got.difference(&want) {
        bad.push(format!("link {} <-> {} found but not built", l[0], l[1]));
    }
    bad
}

/// A frame with what neither side can know masked: IPv4 ID and header
/// checksum, ICMP checksum and echo identifier, UDP and TCP source ports
/// (chosen by the kernel per socket) and checksums, TCP sequence and
/// acknowledgment numbers and options; the same in the IP header quoted by
/// an ICMP error.
pub fn mask_frame(f: &[u8]) -> Vec<u8> {
    let mut v = f.to_vec();
    if v.len() >= 34 && v[12] == 0x08 && v[13] == 0x00 {
        mask_ip(&mut v[14..], true);
    }
    v
}

fn mask_ip(ip: &mut [u8], outer: bool) {
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    ip[4] = 0;
    ip[5] = 0;
    ip[10] = 0;
    ip[11] = 0;
    let proto = ip[9];
    let Some(l4) = ip.get_mut(ihl..) else {
        return;
    };
    let zero = |b: &mut [u8], r: std::ops::Range<usize>| {
        for i in r {
            if let Some(x) = b.get_mut(i) {
                *x = 0;
            }
        }
    };
    match proto {
        1 => {
            zero(l4, 2..4);
            match l4.first() {
                Some(0 | 8) => zero(l4, 4..6),
                Some(3 | 4 | 5 | 11 | 12) if outer && l4.len() > 8 => mask_ip(&mut l4[8..], false),
                _ => {}
            }
        }
        17 => {
            zero(l4, 0..2);
            zero(l4, 6..8);
        }
        6 => {
            zero(l4, 0..2);
            zero(l4, 4..12);
            zero(l4, 16..18);
            if let Some(&off) = l4.get(12) {
                let doff = usize::from(off >> 4) * 4;
                zero(l4, 20..doff.max(20));
            }
        }
        _ => {}
    }
}

/// The first ICMP error (type 3, 4, 5, 11, 12) that a device of the
/// sending namespace received: (type, code).
pub fn icmp_back(obs: &KernelObs, from: &str) -> Option<(u8, u8)> {
    let prefix = format!("{from}/");
    obs.frames
        .iter()
        .filter(|(d, _)| d.starts_with(&prefix))
        .flat_map(|(_, fs)| fs.iter().filter(|c| !c.sent))
        .find_map(|c| {
            let f = &c.frame;
            if f.len() < 34 || f[12] != 0x08 || f[13] != 0 || f[23] != 1 {
                return None;
            }
            let ihl = usize::from(f[14] & 0x0f) * 4;
            let t = *f.get(14 + ihl)?;
            let c = *f.get(15 + ihl)?;
            matches!(t, 3 | 4 | 5 | 11 | 12).then_some((t, c))
        })
}

/// Runs every probe of a topology with one `fwdsim send --script` on the
/// dump in `dir`, as the lab sent them (each after `neigh flush`, at the
/// time it was sent, so that the state the kernel kept from one probe to
/// the next, bridge FDBs and ICMP rate limits, is kept by fwdsim too), and
/// compares each answer with the kernel's. `Err` when fwdsim could not
/// answer in the contract's form; `Ok` holds each probe's disagreements,
/// one line each.
///
/// The form expected of `fwdsim send --script FILE --topology DIR -j --out
/// FRAMES`: one JSON object per send line, with `"line"`, `"hops"`
/// (`[{"ns", "dev", "verdict", "drop_reason"}]`), the last hop's fields at
/// top level, `"caused"` (every packet it made the topology send, each with
/// its last hop's `drop_reason`), `"icmp"` (`{"type", "code"}` of the ICMP error that came back,
/// or null), `"errno"` (the sending call's error, `"ENETUNREACH"`, or null)
/// and `"counters"` (`{NS: {"Ip": {...}, ...}}`, every namespace's deltas);
/// FRAMES a pcapng with one interface per device `NS/DEV` holding the
/// frames it saw, in order, each with the comment `line N` of the send
/// that caused it.
pub fn compare_with_fwdsim(
    bin: &Path,
    dir: &Path,
    spec: &TopoSpec,
    probes: &[Probe],
    obs: &[KernelObs],
) -> std::result::Result<Vec<Vec<String>>, String> {
    let script = dir.join("probes.txt");
    let out_file = dir.join("probes.pcapng");
    let _ = std::fs::remove_file(&out_file);
    let mut text = String::new();
    // The script line of each probe.
    let mut lines = Vec::new();
    for (p, k) in probes.iter().zip(obs) {
        let at = k.at.as_secs_f64();
        if k.flushed {
            text.push_str(&format!("@{at:.6} neigh flush\n"));
        }
        lines.push(text.lines().count() + 1);
        text.push_str(&format!("@{at:.6} {}", p.send_words().join(" ")));
        if let Some(port) = k.sport {
            text.push_str(&format!(" --sport {port}"));
        }
        text.push('\n');
    }
    std::fs::write(&script, &text).map_err(|e| format!("{}: {e}", script.display()))?;
    let o = std::process::Command::new(bin)
        .arg("send")
        .arg("--script")
        .arg(&script)
        .arg("--topology")
        .arg(dir)
        .arg("-j")
        .arg("--out")
        .arg(&out_file)
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mut answers: BTreeMap<usize, serde_json::Value> = BTreeMap::new();
    for l in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(l).map_err(|e| {
            format!(
                "`fwdsim send --script` printed a line that is not JSON ({e}): {l}; exit {:?}, stderr: {}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).trim()
            )
        })?;
        let line = v["line"].as_u64().ok_or("an answer without \"line\"")? as usize;
        answers.insert(line, v);
    }
    let mut frames: BTreeMap<usize, Vec<crate::packet::capture::EgressFrame>> = BTreeMap::new();
    for f in crate::packet::capture::read_egress(&out_file)? {
        let line = f
            .comment
            .as_deref()
            .and_then(|c| c.strip_prefix("line "))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("a frame on {} without a `line N` comment", f.dev))?;
        frames.entry(line).or_default().push(f);
    }
    let mut out = Vec::new();
    for ((p, k), &line) in probes.iter().zip(obs).zip(&lines) {
        let Some(v) = answers.get(&line) else {
            return Err(format!(
                "`fwdsim send --script` gave no answer for line {line} ({p:?}); exit {:?}, stderr: {}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        };
        out.push(compare_one(
            spec,
            p,
            k,
            v,
            frames.remove(&line).unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// One probe's answer from fwdsim (`v`, `frames`) against the kernel's.
fn compare_one(
    spec: &TopoSpec,
    probe: &Probe,
    obs: &KernelObs,
    v: &serde_json::Value,
    frames: Vec<crate::packet::capture::EgressFrame>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let f_errno = v["errno"].as_str().map(str::to_string);
    if obs.errno != f_errno {
        bad.push(format!(
            "send error: kernel {:?}, fwdsim {f_errno:?}",
            obs.errno
        ));
    }
    // The fate and where: the drops of the packet and of its reply, in
    // order, and where the packet itself was dropped.
    let k_drops: Vec<String> = obs.drops.iter().map(|d| d.reason.clone()).collect();
    let f_req = v["drop_reason"].as_str().map(str::to_string);
    // Then those of every packet it caused (replies, errors, redirects).
    let f_caused = v["caused"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["drop_reason"].as_str().map(str::to_string));
    let f_drops: Vec<String> = f_req.iter().cloned().chain(f_caused).collect();
    // Compared as sets with counts: drops in different namespaces come in
    // the order their softirqs ran, which the model need not follow.
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    if sorted(&k_drops) != sorted(&f_drops) {
        let at: Vec<String> = obs
            .drops
            .iter()
            .map(|d| format!("{} in {}", d.reason, d.location))
            .collect();
        bad.push(format!(
            "drops: kernel {k_drops:?} ({}), fwdsim {f_drops:?}",
            at.join(", ")
        ));
    } else if f_req.is_some() {
        let k_ns = obs
            .last_received(&spec.nodes[probe.from].name, &spec.distances(probe.from))
            .map(|(ns, _)| ns);
        let f_ns = v["ns"].as_str().map(str::to_string);
        if k_ns != f_ns {
            bad.push(format!("dropped in: kernel {k_ns:?}, fwdsim {f_ns:?}"));
        }
    }
    // The ICMP that came back.
    let from = &spec.nodes[probe.from].name;
    let k_icmp = icmp_back(obs, from);
    let f_icmp = v["icmp"].as_object().and_then(|o| {
        Some((
            o.get("type")?.as_u64()? as u8,
            o.get("code")?.as_u64()? as u8,
        ))
    });
    if k_icmp != f_icmp {
        bad.push(format!("ICMP back: kernel {k_icmp:?}, fwdsim {f_icmp:?}"));
    }
    // The frames of every device.
    // The devices the lab captures on.
    let captured: BTreeSet<String> = spec
        .nodes
        .iter()
        .flat_map(|n| {
            n.ifaces
                .iter()
                .map(|f| f.name.as_str())
                .chain(["lo"])
                .map(move |f| format!("{}/{f}", n.name))
        })
        .collect();
    let mut f_by_dev: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for f in frames.into_iter().filter(|f| captured.contains(&f.dev)) {
        f_by_dev
            .entry(f.dev)
            .or_default()
            .push(mask_frame(&f.frame));
    }
    let k_by_dev: BTreeMap<String, Vec<Vec<u8>>> = obs
        .frames
        .iter()
        .map(|(d, fs)| (d.clone(), fs.iter().map(|c| mask_frame(&c.frame)).collect()))
        .collect();
    let devs: BTreeSet<&String> = k_by_dev.keys().chain(f_by_dev.keys()).collect();
    for d in devs {
        let (k, f) = (k_by_dev.get(d), f_by_dev.get(d));
        if k != f {
            let (ks, fs) = (
                k.map_or(&[][..], Vec::as_slice),
                f.map_or(&[][..], Vec::as_slice),
            );
            let at = first_difference(ks, fs);
            let show = |v: &[Vec<u8>]| {
                v.get(at - 1)
                    .map_or("none".to_string(), |x| describe_frame(x))
            };
            bad.push(format!(
                "frames on {d}: kernel {} frame(s), fwdsim {} (first difference at #{at}: kernel {}, fwdsim {})",
                ks.len(),
                fs.len(),
                show(ks),
                show(fs)
            ));
        }
    }
    // Every namespace's counters.
    for (i, n) in spec.nodes.iter().enumerate() {
        let kc = snmp::compared(&obs.counters[i]);
        let c = &v["counters"][&n.name];
        let fc = snmp::from_json(c.get("snmp").unwrap_or(c)).unwrap_or_default();
        let fc = snmp::compared(&fc);
        for (name, k, f) in snmp::differences(&kc, &fc) {
            bad.push(format!("{}: {name}: kernel {k}, fwdsim {f}", n.name));
        }
    }
    bad
}

/// A frame in a few words, as tcpdump would say it: `ARP who-has B tell
/// A`, `10.1.0.2 > 10.2.0.2 ICMP 8/0`, `... UDP 40000 > 5001`, `... TCP
/// [S]`, with its length.
pub fn describe_frame(f: &[u8]) -> String {
    let ip4 = |b: &[u8]| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
    let len = f.len();
    if f.len() >= 42 && f[12..14] == [0x08, 0x06] {
        let op = u16::from_be_bytes([f[20], f[21]]);
        return match op {
            1 => format!(
                "ARP who-has {} tell {} ({len} bytes)",
                ip4(&f[38..42]),
                ip4(&f[28..32])
            ),
            2 => format!(
                "ARP reply {} is-at {:02x?} ({len} bytes)",
                ip4(&f[28..32]),
                &f[22..28]
            ),
            o => format!("ARP op {o} ({len} bytes)"),
        };
    }
    if f.len() < 34 || f[12..14] != [0x08, 0x00] {
        return format!(
            "ethertype {:02x?} ({len} bytes)",
            f.get(12..14).unwrap_or(&[])
        );
    }
    let ip = &f[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let (s, d) = (ip4(&ip[12..16]), ip4(&ip[16..20]));
    let l4 = ip.get(ihl..).unwrap_or(&[]);
    let what = match ip[9] {
        1 if l4.len() >= 2 => format!("ICMP {}/{}", l4[0], l4[1]),
        2 => "IGMP".to_string(),
        6 if l4.len() >= 14 => format!(
            "TCP {} > {} flags 0x{:02x}",
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
            l4[13]
        ),
        17 if l4.len() >= 4 => format!(
            "UDP {} > {}",
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]])
        ),
        p => format!("proto {p}"),
    };
    format!("{s} > {d} ttl {} {what} ({len} bytes)", ip[8])
}

fn first_difference(a: &[Vec<u8>], b: &[Vec<u8>]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_topologies_are_trees_of_3_to_6_with_small_bridges() {
        for seed in 0..200 {
            let t = TopoSpec::random(seed);
            assert!((3..=6).contains(&t.nodes.len()));
            assert_eq!(t.cables.len(), t.nodes.len() - 1, "{}", t.describe());
            for n in &t.nodes {
                let ports = n.ifaces.iter().filter(|f| f.master.is_some()).count();
                assert!(ports <= 4);
                assert_eq!(n.bridge, ports > 0);
                let names: BTreeSet<&str> = n.ifaces.iter().map(|f| f.name.as_str()).collect();
                assert_eq!(names.len(), n.ifaces.len());
            }
            let addrs = t.addresses();
            let unique: BTreeSet<_> = addrs.iter().collect();
            assert_eq!(unique.len(), addrs.len(), "{}", t.describe());
            assert_eq!(t.probes(25).len(), 25);
            assert_eq!(TopoSpec::random(seed), t);
        }
    }

    #[test]
    fn masking_keeps_what_both_sides_know() {
        // Ethernet + IPv4 + UDP: ports and checksums masked, addresses kept.
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12] = 0x08;
        f[14] = 0x45;
        f[18] = 0x12;
        f[23] = 17;
        f[26..30].copy_from_slice(&[10, 1, 0, 2]);
        f[34] = 0xab;
        f[36] = 0x13;
        f[37] = 0x89;
        let m = mask_frame(&f);
        assert_eq!(m[18], 0);
        assert_eq!(m[34], 0);
        assert_eq!(&m[26..30], &[10, 1, 0, 2]);
        assert_eq!((m[36], m[37]), (0x13, 0x89));
    }

    #[test]
    fn the_checksum_of_a_checksummed_message_is_zero() {
        let mut m = vec![8u8, 0, 0, 0, 0x40, 0x01, 0, 1, b'x'];
        let c = inet_checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(inet_checksum(&m), 0);
    }
}
