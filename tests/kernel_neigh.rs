//! Neighbour resolution against the kernel: the lab's router (client,
//! router and server namespaces, as in `kernel_packet`) gets a route
//! `10.0.77.0/24 via 10.0.2.77 dev r1` to a gateway that does not exist.
//! Two pings to 10.0.77.1 from the client, 300 ms apart, wait in the
//! entry's queue while the router asks for 10.0.2.77 (an ARP request a
//! second, three in all), then die together with `NEIGH_FAILED` and an
//! ICMP host unreachable each, three seconds after the first. A third ping
//! a second later starts resolution again, and this time the server answers
//! the ARP request in 200 ms: the ping is forwarded to the answer's MAC.
//!
//! What the kernel did (frames at the server with their arrival times,
//! frames back at the client, `skb:kfree_skb` reasons, the router's
//! counters) is compared with `fwdsim replay` of the same four frames (the
//! three pings on `r0`, the ARP answer on `r1`, stamped with the times they
//! were sent) on a `fwdsim host dump` of the router: verdicts, drop
//! reasons, ICMP, the egress frames (bytes, and their times within 250 ms)
//! and the counters.
//!
//! Needs root and tracefs; without them it skips with the reason, except
//! under `CI=true`, where it fails. Runs alone among the tests that read
//! the tracepoint or free packets in the kernel ([`crate::KFREE_LOCK`]).

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fwdsim_lab::packet::config::{CLIENT_ADDR, Forwarding, RejectRoutes, RouterConfig};
use fwdsim_lab::packet::lab::{CLIENT_MAC, PktLab, R0_MAC, R1_MAC};
use fwdsim_lab::packet::run;
use fwdsim_lab::packet::snmp;
use fwdsim_lab::packet::wire::Endpoints;

/// The gateway nobody plays until the third ping.
const GW: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 77);
/// The MAC the server answers with for it.
const GW_MAC: [u8; 6] = [2, 0, 0, 0, 2, 0x77];
/// How far a frame's time may be from fwdsim's for it.
/// (The kernel's timers run late by up to a timer-wheel slot, 32 ms at
/// 250 jiffies, each time they are re-armed.)
const SLACK: Duration = Duration::from_millis(250);

fn ping(id: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(CLIENT_MAC, R0_MAC)
        .ipv4(CLIENT_ADDR.octets(), [10, 0, 77, 1], 64)
        .icmpv4_echo_request(0x4e49, id);
    let mut v = Vec::with_capacity(b.size(24));
    b.write(&mut v, &[0x5a; 24]).expect("in memory");
    // A fixed IP ID, so both sides quote the same header.
    v[18..20].copy_from_slice(&id.to_be_bytes());
    v[24..26].copy_from_slice(&[0, 0]);
    let c = ip_checksum(&v[14..34]);
    v[24..26].copy_from_slice(&c.to_be_bytes());
    v
}

fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `10.0.2.77 is-at GW_MAC`, to r1 (10.0.2.1).
fn arp_answer() -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&R1_MAC);
    f.extend_from_slice(&GW_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&GW_MAC);
    f.extend_from_slice(&GW.octets());
    f.extend_from_slice(&R1_MAC);
    f.extend_from_slice(&[10, 0, 2, 1]);
    f
}

/// A router that forwards with the kernel's defaults where they matter.
fn config() -> RouterConfig {
    let mut c = RouterConfig::random(7);
    c.forwarding = Forwarding::All;
    c.rp_filter = (0, 0);
    c.accept_local = false;
    c.route_localnet = false;
    c.drop_unicast_in_l2_multicast = false;
    c.icmp_errors_use_inbound_ifaddr = false;
    c.icmp_ratelimit = 1000;
    c.icmp_ratemask = 6168;
    c.r1_mtu = 1500;
    c.default_route = false;
    c.reject = RejectRoutes::default();
    c.rules = false;
    c
}

/// A frame seen on a wire, with when (since the first ping).
type Seen = (Duration, Vec<u8>);

fn is_arp(f: &[u8]) -> bool {
    f.get(12..14) == Some(&[0x08, 0x06][..])
}

fn icmp_type_code(f: &[u8]) -> Option<(u8, u8)> {
    (f.get(12..14) == Some(&[8, 0][..]) && f.get(23) == Some(&1))
        .then(|| {
            let o = 14 + usize::from(f[14] & 0xf) * 4;
            Some((*f.get(o)?, *f.get(o + 1)?))
        })
        .flatten()
}

/// The kernel's side: what reached the server and the client, when.
struct KernelSide {
    server: Vec<Seen>,
    client: Vec<Seen>,
    drops: Vec<String>,
    counters: snmp::Counters,
    /// When each of the four frames went out.
    sent: Vec<Duration>,
}

fn kernel_side(lab: &PktLab, trace: &mut fwdsim_lab::packet::ktrace::KfreeTrace) -> KernelSide {
    let mut ep = Endpoints::open(lab).expect("the lab's sockets");
    let _ = trace.drain_all();
    ep.drain_client().unwrap();
    ep.drain_server().unwrap();
    let before = ep.counters().unwrap();
    let (mut server, mut client, mut drops) = (Vec::new(), Vec::new(), Vec::new());
    let t0 = Instant::now();
    let mut sent = Vec::new();
    // (when, what): the three pings from the client, the answer from the server.
    let plan: [(u64, u8); 4] = [(0, 1), (300, 2), (4000, 3), (4200, 0)];
    let mut poll_until =
        |until: Duration,
         ep: &mut Endpoints,
         trace: &mut fwdsim_lab::packet::ktrace::KfreeTrace| {
            loop {
                let now = t0.elapsed();
                for f in ep.drain_server().unwrap() {
                    server.push((now, f));
                }
                for f in ep.drain_client().unwrap() {
                    client.push((now, f));
                }
                for e in trace.drain_all() {
                    if e.protocol == 2048 && e.reason != "BRIDGE_INGRESS_STP_STATE" {
                        drops.push(e.reason);
                    }
                }
                if now >= until {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
    for (ms, what) in plan {
        poll_until(Duration::from_millis(ms), &mut ep, trace);
        sent.push(t0.elapsed());
        if what == 0 {
            ep.send_server(&arp_answer()).unwrap();
        } else {
            ep.send(&ping(u16::from(what))).unwrap();
        }
    }
    poll_until(Duration::from_millis(4700), &mut ep, trace);
    let counters = snmp::delta(&before, &ep.counters().unwrap());
    KernelSide {
        server,
        client,
        drops,
        counters,
        sent,
    }
}

/// fwdsim's egress frames: (time since the first frame, device, bytes).
fn read_egress(path: &Path, base_ns: i128) -> Vec<(Duration, String, Vec<u8>)> {
    let mut r = fwdsim_pcap::CaptureReader::open(path).expect("egress pcapng");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.expect("egress frame");
        let at = Duration::from_nanos((p.ts_nanos - base_ns).max(0) as u64);
        out.push((
            at,
            p.iif_name.unwrap_or_default().to_string(),
            p.frame.to_vec(),
        ));
    }
    out
}

#[test]
fn unresolved_next_hops_match_the_kernel() {
    let test = "kernel_neigh::unresolved_next_hops_match_the_kernel";
    let _guard = crate::KFREE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut trace) = run::require(test) else {
        return;
    };
    let env = crate::kernel_route::env();
    let lab = PktLab::build(&config()).expect("building the lab");
    lab.router
        .ip(&[
            "route",
            "add",
            "10.0.77.0/24",
            "via",
            "10.0.2.77",
            "dev",
            "r1",
        ])
        .expect("the route to the silent gateway");
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("router");
    std::fs::create_dir(&snap).unwrap();
    env.fwdsim
        .host_dump(&snap, lab.router.name())
        .expect("fwdsim host dump");
    let k = kernel_side(&lab, &mut trace);
    drop(lab);

    // The same four frames for fwdsim, at the times they were sent.
    let base_ns: i128 = 1_700_000_000_000_000_000;
    let cap = dir.path().join("in.pcapng");
    {
        let mut w = fwdsim_pcap::PcapngWriter::create(&cap).unwrap();
        let r0 = w
            .add_interface("r0", fwdsim_pcap::LinkType::ETHERNET)
            .unwrap();
        let r1 = w
            .add_interface("r1", fwdsim_pcap::LinkType::ETHERNET)
            .unwrap();
        let frames = [
            (r0, ping(1)),
            (r0, ping(2)),
            (r0, ping(3)),
            (r1, arp_answer()),
        ];
        for ((id, f), at) in frames.iter().zip(&k.sent) {
            w.write_packet(*id, base_ns + at.as_nanos() as i128, f)
                .unwrap();
        }
        w.flush().unwrap();
    }
    let egress = dir.path().join("out.pcapng");
    let out = Command::new(&env.fwdsim.bin)
        .args(["replay", cap.to_str().unwrap(), "--host"])
        .arg(&snap)
        .args(["-j", "--out", egress.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fwdsim replay: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let fw = read_egress(&egress, base_ns + k.sent[0].as_nanos() as i128);
    let mut problems = Vec::new();

    // Verdicts: the kernel's from what it sent and freed.
    let icmp_at_client: Vec<(Duration, (u8, u8))> = k
        .client
        .iter()
        .filter_map(|(t, f)| icmp_type_code(f).map(|c| (*t, c)))
        .collect();
    let failed = k.drops.iter().filter(|r| *r == "NEIGH_FAILED").count();
    let pings_at_server: Vec<&Seen> = k.server.iter().filter(|(_, f)| !is_arp(f)).collect();
    let kernel_words = [
        if failed >= 1 {
            "drop NEIGH_FAILED 3/1"
        } else {
            "?"
        },
        if failed >= 2 {
            "drop NEIGH_FAILED 3/1"
        } else {
            "?"
        },
        if pings_at_server.len() == 1 {
            "forward"
        } else {
            "?"
        },
        "local",
    ];
    for (i, (l, kw)) in lines.iter().take(4).zip(kernel_words).enumerate() {
        let icmp = l["icmp"]
            .as_object()
            .map(|o| format!(" {}/{}", o["type"], o["code"]))
            .unwrap_or_default();
        let word = match l["drop_reason"].as_str() {
            Some(r) => format!("drop {r}{icmp}"),
            None => format!("{}{icmp}", l["verdict"].as_str().unwrap_or("?")),
        };
        if word != kw {
            problems.push(format!("packet {}: kernel {kw}, fwdsim {word}", i + 1));
        }
    }
    // The tracepoint is global: other processes' drops may be in the list,
    // so only this test's own reason is counted.
    if failed != 2 {
        problems.push(format!(
            "kernel: {failed} NEIGH_FAILED drop(s), two expected (all reasons seen: {:?})",
            k.drops
        ));
    }
    if icmp_at_client.iter().map(|(_, c)| *c).collect::<Vec<_>>() != [(3, 1), (3, 1)] {
        problems.push(format!("kernel ICMP at the client: {icmp_at_client:?}"));
    }

    // Egress: the same frames, in order, at the same times, per device.
    for (dev, kernel) in [("r1", &k.server), ("r0", &k.client)] {
        let ours: Vec<&(Duration, String, Vec<u8>)> =
            fw.iter().filter(|(_, d, _)| d == dev).collect();
        if ours.len() != kernel.len() {
            problems.push(format!(
                "{dev}: kernel {} frame(s) {:?}, fwdsim {} {:?}",
                kernel.len(),
                kernel.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
                ours.len(),
                ours.iter().map(|(t, _, _)| *t).collect::<Vec<_>>()
            ));
            continue;
        }
        for (n, ((kt, kf), (ft, _, ff))) in kernel.iter().zip(&ours).enumerate() {
            // The router builds the ICMP errors: their IP ID and checksum
            // are its own random choice.
            let mask = |f: &[u8]| {
                let mut v = f.to_vec();
                if icmp_type_code(f).is_some() && v.len() > 25 {
                    v[18..20].fill(0);
                    v[24..26].fill(0);
                }
                v
            };
            if mask(kf) != mask(ff) {
                problems.push(format!(
                    "{dev} frame {}: kernel {:02x?}, fwdsim {:02x?}",
                    n + 1,
                    kf,
                    ff
                ));
            }
            // The kernel's frame was seen at the first poll after it came.
            let late = kt.saturating_sub(*ft);
            let early = ft.saturating_sub(*kt);
            if late > SLACK || early > SLACK {
                problems.push(format!(
                    "{dev} frame {}: kernel at {kt:?}, fwdsim at {ft:?}",
                    n + 1
                ));
            }
        }
    }

    // Counters.
    let fwdsim_counters = lines
        .iter()
        .find_map(|l| snmp::from_json(&l["snmp"]))
        .unwrap_or_default();
    let diff = snmp::differences(
        &snmp::compared(&k.counters),
        &snmp::compared(&fwdsim_counters),
    );
    if !diff.is_empty() {
        problems.push(format!("counters (name, kernel, fwdsim): {diff:?}"));
    }
    eprintln!(
        "{test}: kernel: server {:?}, client {:?}, NEIGH_FAILED drops {}; fwdsim egress {:?}",
        k.server
            .iter()
            .map(|(t, f)| (t.as_millis(), if is_arp(f) { "arp" } else { "ip" }))
            .collect::<Vec<_>>(),
        icmp_at_client
            .iter()
            .map(|(t, c)| (t.as_millis(), *c))
            .collect::<Vec<_>>(),
        failed,
        fw.iter()
            .map(|(t, d, _)| (t.as_millis(), d.as_str()))
            .collect::<Vec<_>>()
    );
    assert!(
        problems.is_empty(),
        "{test}: fwdsim and the kernel disagree:\n  {}\nkernel: server {:?}\nclient {:?}",
        problems.join("\n  "),
        k.server
            .iter()
            .map(|(t, f)| (*t, f.len()))
            .collect::<Vec<_>>(),
        k.client
            .iter()
            .map(|(t, f)| (*t, f.len()))
            .collect::<Vec<_>>()
    );
}
