//! Black-box tests of `fwdsim replay` and `fwdsim trace` on the bundled
//! captures (fixtures/pcaps, made by `cargo run --example make_pcaps`), and
//! the robustness walk over tcpdump's test captures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fwdsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fwdsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run fwdsim")
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

const OFF: &str = "fixtures/hosts/docker-forwarding-off.toml";
const ON: &str = "fixtures/hosts/docker-forwarding-on.toml";

#[test]
fn docker_forwarding_off_drops_in_ip_error_without_icmp() {
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker.pcapng",
        "--host",
        OFF,
        "-j",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = lines(&o);
    assert_eq!(v.len(), 5);
    for p in &v[..3] {
        assert_eq!(p["verdict"], "drop");
        assert_eq!(p["drop_reason"], "IP_INADDRERRORS");
        assert_eq!(p["route"]["type"], "unreachable");
        assert_eq!(p["icmp"], serde_json::Value::Null);
        assert_eq!(p["iif"], "docker0");
    }
    assert_eq!(v[3]["verdict"], "local");
    assert_eq!(v[4]["snmp"]["Ip"]["InAddrErrors"], 3);
    assert_eq!(v[4]["snmp"]["Ip"]["InReceives"], 4);
}

#[test]
fn docker_forwarding_on_forwards_and_writes_the_egress_frames() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("egress.pcapng");
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker.pcapng",
        "--host",
        ON,
        "-j",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = lines(&o);
    for p in &v[..3] {
        assert_eq!(p["verdict"], "forward");
        assert_eq!(p["route"]["dev"], "eth0");
        assert_eq!(p["route"]["gateway"], "10.0.2.2");
    }
    assert_eq!(v[4]["snmp"]["Ip"]["ForwDatagrams"], 3);
    let mut r = fwdsim_pcap::CaptureReader::open(&out).unwrap();
    let mut frames = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        frames.push((p.iif_name.map(String::from), p.frame.to_vec()));
    }
    assert_eq!(frames.len(), 4, "3 forwarded packets and the echo reply");
    let (dev, f) = &frames[0];
    assert_eq!(dev.as_deref(), Some("eth0"));
    assert_eq!(
        &f[0..6],
        &[0x52, 0x55, 0x0a, 0x00, 0x02, 0x02],
        "to the gateway's MAC"
    );
    assert_eq!(
        &f[6..12],
        &[0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
        "from eth0's MAC"
    );
    assert_eq!(f[14 + 8], 63, "TTL decremented");
}

#[test]
fn malformed_headers_get_the_ip_rcv_core_reasons() {
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/malformed.pcapng",
        "--host",
        ON,
        "-j",
    ]);
    let v = lines(&o);
    let reasons: Vec<&str> = v[..6]
        .iter()
        .map(|p| p["drop_reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "IP_CSUM",
            "IP_INHDR",
            "IP_INHDR",
            "PKT_TOO_SMALL",
            "IP_INHDR",
            "OTHERHOST"
        ]
    );
}

#[test]
fn trace_walks_one_packet_through_ip_rcv_and_the_dst() {
    let o = fwdsim(&[
        "trace",
        "fixtures/pcaps/docker.pcapng",
        "--packet",
        "2",
        "--host",
        OFF,
    ]);
    assert_eq!(o.status.code(), Some(0));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("ip_rcv (net/ipv4/ip_input.c)"), "{t}");
    assert!(t.contains("-> no_route"), "{t}");
    assert!(t.contains("dst_input: dst_input(skb) -> ip_error"), "{t}");
    let lines: Vec<&str> = t.lines().collect();
    assert!(
        lines[lines.len() - 2].starts_with("result: drop, SKB_DROP_REASON_IP_INADDRERRORS"),
        "{t}"
    );
    assert_eq!(
        lines[lines.len() - 1],
        "why: decided by ip_route_input_slow: IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) -> no_route"
    );
}

#[test]
fn replay_without_an_ingress_device_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("noname.pcapng");
    let mut w = fwdsim_pcap::PcapngWriter::create(&cap).unwrap();
    let id = w
        .add_interface("", fwdsim_pcap::LinkType::ETHERNET)
        .unwrap();
    w.write_packet(id, 0, &[0u8; 60]).unwrap();
    w.flush().unwrap();
    drop(w);
    let o = fwdsim(&["replay", cap.to_str().unwrap(), "--host", ON, "-j"]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("packet 1"), "{e}");
}

/// The 830 captures of tcpdump's test suite (fixtures/pcaps/README.md).
fn tcpdump_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcaps/tcpdump-tests")
}

/// Every capture of tcpdump's test suite replays with exit 0 or a clear
/// one-line error per problem, and never a panic.
#[test]
fn tcpdump_corpus_never_panics() {
    let dir = tcpdump_tests();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut ok, mut errs) = (0, 0);
    for f in &files {
        let o = fwdsim(&[
            "replay",
            f.to_str().unwrap(),
            "--host",
            ON,
            "--iif",
            "eth0",
            "-j",
        ]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!e.contains("panicked"), "{}: {e}", f.display());
        match o.status.code() {
            Some(0) => ok += 1,
            Some(1) => {
                errs += 1;
                assert!(
                    e.lines().all(|l| l.starts_with("fwdsim: ")),
                    "{}: {e}",
                    f.display()
                );
            }
            c => panic!("{}: exit {c:?}: {e}", f.display()),
        }
        // The counters object closes every replay.
        let last = String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .map(String::from)
            .unwrap_or_default();
        assert!(last.starts_with("{\"snmp\""), "{}: {last}", f.display());
    }
    assert!(ok > 400, "{ok} replayed cleanly, {errs} with errors");
}

#[test]
fn a_bound_socket_takes_the_reassembled_datagram() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host.toml");
    let mut text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(ON)).unwrap();
    text.push_str("\n[[socket]]\nproto = \"udp\"\nport = 9999\n");
    std::fs::write(&host, text).unwrap();
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/fragments.pcapng",
        "--host",
        host.to_str().unwrap(),
        "-j",
    ]);
    let v = lines(&o);
    assert_eq!(v[1]["verdict"], "local");
    assert_eq!(v[1]["icmp"], serde_json::Value::Null);
    assert_eq!(v[2]["snmp"]["Udp"]["InDatagrams"], 1);
    assert_eq!(v[2]["snmp"]["Ip"]["ReasmOKs"], 1);
    // Without the socket: port unreachable about the whole datagram.
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/fragments.pcapng",
        "--host",
        ON,
        "-j",
    ]);
    let v = lines(&o);
    assert_eq!(v[1]["icmp"], serde_json::json!({"type": 3, "code": 3}));
}

#[test]
fn the_text_summary_groups_drops_by_cause_and_explains_each_once() {
    let o = fwdsim(&["replay", "fixtures/pcaps/docker.pcapng", "--host", OFF]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let causes = &out[out.find("causes of drops").expect("a causes section")..];
    let expected = "causes of drops, most packets first:
  3 packets (first: packet 1), SKB_DROP_REASON_IP_INADDRERRORS
    decided by ip_route_input_slow: IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) -> no_route
    what would change it:
      with net.ipv4.ip_forward = 1: 8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 (forwarded); note that 172.17.0.2 is a private address: without SNAT (masquerade) on eth0 its replies cannot come back
";
    assert!(causes.starts_with(expected), "{causes}");
    // One group per deciding condition: each martian is its own cause.
    let o = fwdsim(&["replay", "fixtures/pcaps/martians.pcapng", "--host", ON]);
    let out = String::from_utf8_lossy(&o.stdout);
    let groups: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("(first: packet"))
        .collect();
    assert_eq!(groups.len(), 6, "{out}");
    assert!(out.contains(
        "    decided by ip_route_input_slow: ipv4_is_loopback(daddr 127.0.0.1) = 1, IN_DEV_NET_ROUTE_LOCALNET = 0 -> martian_destination\n    what would change it:\n      with net.ipv4.conf.docker0.route_localnet = 1: local 127.0.0.1 from 172.17.0.2 dev lo (delivered to this host)\n"
    ), "{out}");
    // Drops after the route decision name the condition their function tested.
    let o = fwdsim(&["replay", "fixtures/pcaps/ttl-burst.pcapng", "--host", ON]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(
        "  10 packets (first: packet 1), SKB_DROP_REASON_IP_INHDR\n    decided by ip_forward: ttl 1 <= 1 -> out\n    no setting of this host changes it: ip_forward drops a packet to forward that arrives with a TTL of 1 or less (this one: 1)"
    ), "{out}");
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/df-over-mtu.pcapng",
        "--host",
        "fixtures/hosts/docker-small-mtu.toml",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(
        "  1 packet (first: packet 1), SKB_DROP_REASON_PKT_TOO_BIG\n    decided by ip_forward: len 1400, mtu 1280, DF 1\n    what would change it:\n      with `ip link set eth0 mtu 1400` (and as much on the path beyond): forwarded via 10.0.2.2 dev eth0\n"
    ), "{out}");
    let o = fwdsim(&["replay", "fixtures/pcaps/malformed.pcapng", "--host", ON]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(
        "  1 packet (first: packet 2), SKB_DROP_REASON_IP_INHDR\n    decided by ip_rcv_core: skb->len 36, version 6, ihl 5: not an IPv4 header"
    ), "{out}");
    assert!(out.contains(
        "  1 packet (first: packet 1), SKB_DROP_REASON_IP_CSUM\n    decided by ip_rcv_core: version 4, ihl 5, tot_len 36, skb->len 36, checksum bad\n    no setting of this host changes it: the packet was malformed when it arrived (corrupted on the way, or built wrong by its sender)\n"
    ), "{out}");
    assert!(out.contains(
        "  1 packet (first: packet 6), SKB_DROP_REASON_OTHERHOST\n    decided by ip_rcv_core: skb->pkt_type = PACKET_OTHERHOST -> out\n    no setting of this host changes it: the frame is addressed to 02:00:00:00:99:99 and docker0 is 02:42:ac:11:00:01; such a frame reaches IP only when the device is promiscuous, and ip_rcv drops it there\n"
    ), "{out}");
    // A datagram (the second fragment completes it) to a port nobody serves:
    // the walk is repeated with the reassembly queue as it was.
    let o = fwdsim(&["replay", "fixtures/pcaps/fragments.pcapng", "--host", ON]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(
        "  1 packet (first: packet 2), SKB_DROP_REASON_NO_SOCKET\n    decided by udp_rcv: udp socket for 172.17.0.1:9999 = none\n    what would change it:\n      with a udp socket bound on 172.17.0.1:9999 (a program serving that port; `[[socket]]` in a host file): delivered to this host\n"
    ), "{out}");
    // A source route, refused while conf.all.accept_source_route = 0.
    let o = fwdsim(&["replay", "fixtures/pcaps/source-route.pcapng", "--host", ON]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(
        "  1 packet (first: packet 1), SKB_DROP_REASON_NOT_SPECIFIED\n    decided by ip_rcv_options: source route option, IN_DEV_SOURCE_ROUTE(docker0) = 0 (net.ipv4.conf.all.accept_source_route = 0 AND net.ipv4.conf.docker0.accept_source_route = 1) -> out\n    what would change it:\n      with net.ipv4.conf.all.accept_source_route = 1: forwarded via 10.0.2.2 dev eth0\n"
    ), "{out}");
    // A gateway that never answers ARP.
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("no-neigh.toml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(ON)).unwrap();
    std::fs::write(&host, &text[..text.find("[[neigh]]").unwrap()]).unwrap();
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker.pcapng",
        "--host",
        host.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(
        "  3 packets (first: packet 1), SKB_DROP_REASON_NEIGH_FAILED\n    decided by neigh_timer_handler: 10.0.2.2 (+3000 ms): probes 6 >= 6, no answer -> NUD_FAILED -> out\n    10.0.2.2 did not answer ARP on eth0: the host has no valid neighbour entry for it, so the kernel queued the packet, sent ARP requests (mcast_solicit, one a second) and gave up, answering ICMP host unreachable\n    what would change it:\n      with `ip neigh replace 10.0.2.2 lladdr 02:00:00:00:00:01 dev eth0` (or 10.0.2.2 answering ARP; check that it is up and on that link): forwarded via 10.0.2.2 dev eth0\n"
    ), "{out}");
    // JSON Lines keep their contract: no causes there.
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker.pcapng",
        "--host",
        OFF,
        "-j",
    ]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("causes"));
}
