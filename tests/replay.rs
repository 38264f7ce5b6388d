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
    // See: issue 8. The capture has docker0 only: the answer may have come
    // on eth0, unseen; no address is suggested.
    assert!(out.contains(
        "  3 packets (first: packet 1), SKB_DROP_REASON_NEIGH_FAILED\n    decided by neigh_timer_handler: 10.0.2.2 (+3000 ms): probes 6 >= 6, no answer -> NUD_FAILED -> out\n    the ARP answer from 10.0.2.2 would arrive on eth0, which this capture does not cover: capture with `tcpdump -i any` or on eth0 too; the packets' fate is unknown\n"
    ), "{out}");
    assert!(out.contains(
        "     1  docker0    drop     NEIGH_FAILED           via 10.0.2.2 dev eth0                3/1\n        fate uncertain: an ARP answer would arrive on eth0, which this capture does not cover\n"
    ), "{out}");
    assert!(out.contains(
        "3 packets dropped NEIGH_FAILED, uncertain: the ARP answer from 10.0.2.2 would arrive on eth0"
    ), "{out}");
    assert!(!out.contains("02:00:00:00:00:01"), "{out}");
    // The same frames in a capture that covers eth0 too (an interface
    // with no packets): 10.0.2.2 did not answer, and the advice names no
    // made-up MAC.
    let both = dir.path().join("both.pcapng");
    {
        let mut r = fwdsim_pcap::CaptureReader::open(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcaps/docker.pcapng"),
        )
        .unwrap();
        let mut w = fwdsim_pcap::PcapngWriter::create(&both).unwrap();
        let d0 = w
            .add_interface("docker0", fwdsim_pcap::LinkType::ETHERNET)
            .unwrap();
        w.add_interface("eth0", fwdsim_pcap::LinkType::ETHERNET)
            .unwrap();
        while let Some(p) = r.next_packet() {
            let p = p.unwrap();
            w.write_packet(d0, p.ts_nanos, p.frame).unwrap();
        }
        w.flush().unwrap();
    }
    let o = fwdsim(&[
        "replay",
        both.to_str().unwrap(),
        "--host",
        host.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(
        "  3 packets (first: packet 1), SKB_DROP_REASON_NEIGH_FAILED\n    decided by neigh_timer_handler: 10.0.2.2 (+3000 ms): probes 6 >= 6, no answer -> NUD_FAILED -> out\n    10.0.2.2 did not answer ARP on eth0: the host has no valid neighbour entry for it, so the kernel queued the packet, sent ARP requests (mcast_solicit, one a second) and gave up, answering ICMP host unreachable\n    what would change it:\n      with `ip neigh replace 10.0.2.2 lladdr <the gateway's MAC> dev eth0` (or 10.0.2.2 answering ARP; check that it is up and on that link): forwarded via 10.0.2.2 dev eth0\n"
    ), "{out}");
    assert!(!out.contains("uncertain"), "{out}");
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

/// The frames of fixtures/pcaps/docker.pcapng with their timestamps, and
/// the host's echo reply to the 4th as tcpdump on docker0 records it (the
/// request's MAC addresses swapped: docker0's is the source).
fn docker_frames_with_the_reply() -> Vec<(i128, Vec<u8>, bool)> {
    let mut r = fwdsim_pcap::CaptureReader::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcaps/docker.pcapng"),
    )
    .unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        out.push((p.ts_nanos, p.frame.to_vec(), false));
    }
    let (ts, req, _) = out[3].clone();
    let mut reply = req.clone();
    reply[..6].copy_from_slice(&req[6..12]);
    reply[6..12].copy_from_slice(&req[..6]);
    assert_eq!(reply[6..12], [0x02, 0x42, 0xac, 0x11, 0x00, 0x01]);
    out.push((ts + 1000, reply, true));
    out
}

/// A little-endian pcap of `link` with `records`.
fn pcap_bytes(link: u32, records: &[(i128, Vec<u8>)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&262_144u32.to_le_bytes());
    b.extend_from_slice(&link.to_le_bytes());
    for (ts, f) in records {
        b.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&((ts % 1_000_000_000 / 1000) as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    b
}

/// The SLL2 record of Ethernet frame `f` on ifindex `ifindex`.
fn sll2(f: &[u8], ifindex: u32, pkt_type: u8) -> Vec<u8> {
    let mut v = f[12..14].to_vec();
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&ifindex.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.push(pkt_type);
    v.push(6);
    v.extend_from_slice(&f[6..12]);
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&f[14..]);
    v
}

// See: issue 8. `tcpdump -i docker0` records both directions; the host's
// own echo reply is sent, not received, in every capture format, and the
// counters are those of the four frames received.
#[test]
fn frames_the_host_sent_are_not_received_in_any_capture_format() {
    let frames = docker_frames_with_the_reply();
    let dir = tempfile::tempdir().unwrap();
    // pcap, no direction: the own-MAC rule.
    let pcap = dir.path().join("docker0.pcap");
    let recs: Vec<(i128, Vec<u8>)> = frames.iter().map(|(t, f, _)| (*t, f.clone())).collect();
    std::fs::write(&pcap, pcap_bytes(1, &recs)).unwrap();
    // pcapng with epb_flags.
    let ng = dir.path().join("docker0.pcapng");
    {
        let mut w = fwdsim_pcap::PcapngWriter::create(&ng).unwrap();
        let d0 = w
            .add_interface("docker0", fwdsim_pcap::LinkType::ETHERNET)
            .unwrap();
        for (t, f, sent) in &frames {
            let d = if *sent {
                fwdsim_pcap::Direction::Outbound
            } else {
                fwdsim_pcap::Direction::Inbound
            };
            w.write_packet_with_direction(d0, *t, f, Some(d)).unwrap();
        }
        w.flush().unwrap();
    }
    // SLL2 (`tcpdump -i any -y LINUX_SLL2`): docker0 is ifindex 3 of the
    // TOML host (lo 1, eth0 2, docker0 3).
    let any = dir.path().join("any.pcap");
    let recs: Vec<(i128, Vec<u8>)> = frames
        .iter()
        .map(|(t, f, sent)| (*t, sll2(f, 3, if *sent { 4 } else { 0 })))
        .collect();
    std::fs::write(&any, pcap_bytes(276, &recs)).unwrap();
    let want = ["forward", "forward", "forward", "local", "sent"];
    for (cap, iif, taken) in [
        (&pcap, Some("docker0"), "own_source_mac"),
        (&ng, None, "capture_direction"),
        (&any, None, "capture_direction"),
    ] {
        let mut args = vec!["replay", cap.to_str().unwrap(), "--host", ON, "-j"];
        if let Some(i) = iif {
            args.extend(["--iif", i]);
        }
        let o = fwdsim(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let l = lines(&o);
        let got: Vec<&str> = l[..5]
            .iter()
            .map(|v| v["verdict"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{}", cap.display());
        assert_eq!(l[4]["iif"], "docker0");
        assert_eq!(l[4]["taken_as_sent"], taken);
        for k in ["drop_reason", "route", "icmp"] {
            assert!(l[4][k].is_null(), "{k}");
        }
        assert_eq!(l[5]["snmp"]["Ip"]["InReceives"], 4, "{}", cap.display());
        assert_eq!(l[5]["snmp"]["Ip"]["ForwDatagrams"], 3);
    }
    let o = fwdsim(&[
        "replay",
        pcap.to_str().unwrap(),
        "--host",
        ON,
        "--iif",
        "docker0",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\n     5  docker0    sent     -  "), "{out}");
    assert!(out.contains("  sent: 1\n"), "{out}");
    assert!(out.contains(
        "1 frame whose source MAC is docker0's own was taken as sent by the host (the capture does not record directions)\n"
    ), "{out}");
    // Trace of a sent frame: nothing to walk.
    let o = fwdsim(&["trace", ng.to_str().unwrap(), "--packet", "5", "--host", ON]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "packet 5 (docker0) is not received by the host: the capture marks it as sent by the host\n"
    );
}

// See: issue 8. Frames captured on the bridge port are the bridge's: for
// docker0's MAC delivered up to docker0, for another MAC flooded to the
// other ports (docker0 has none: freed), and the host's own sent.
#[test]
fn frames_on_a_bridge_port_go_through_the_bridge() {
    let frames = docker_frames_with_the_reply();
    let dir = tempfile::tempdir().unwrap();
    let mut other = frames[0].1.clone();
    other[..6].copy_from_slice(&[0x02, 0x42, 0xac, 0x11, 0x00, 0x03]);
    let recs = vec![
        (frames[0].0, frames[0].1.clone()),
        (frames[1].0, other),
        (frames[4].0, frames[4].1.clone()),
    ];
    let cap = dir.path().join("vethc.pcap");
    std::fs::write(&cap, pcap_bytes(1, &recs)).unwrap();
    let host = "fixtures/hosts/docker-29-nft";
    let o = fwdsim(&[
        "replay",
        cap.to_str().unwrap(),
        "--host",
        host,
        "--iif",
        "vethc",
        "-j",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let l = lines(&o);
    assert_eq!(l[0]["iif"], "vethc");
    assert_ne!(l[0]["verdict"], "drop");
    assert_eq!(
        l[0]["bridge"],
        serde_json::json!({"master": "docker0", "action": "up"})
    );
    assert_eq!(l[1]["iif"], "vethc");
    assert_eq!(l[1]["verdict"], "drop");
    assert_eq!(l[1]["drop_reason"], "NOT_SPECIFIED");
    assert_eq!(
        l[1]["bridge"],
        serde_json::json!({"master": "docker0", "action": "dropped"})
    );
    assert_eq!(l[2]["verdict"], "sent");
    assert_eq!(l[3]["snmp"]["Ip"]["InReceives"], 1);
    assert!(l[3].get("devices").is_none(), "no otherhost drop: {}", l[3]);
    let o = fwdsim(&[
        "replay",
        cap.to_str().unwrap(),
        "--host",
        host,
        "--iif",
        "vethc",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("        delivered up to docker0 by the bridge\n"),
        "{out}"
    );
    assert!(out.contains(
        "        dropped by docker0 (br_handle_frame): not for the host, and no other port took it (a port not forwarding, or an unknown destination flooded to no other port)\n"
    ), "{out}");
    assert!(!out.contains("OTHERHOST"), "{out}");
}

/// A pcap record of a UDP datagram from the container to 8.8.8.8.
fn pcap_record(i: u32) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(
        [0x02, 0x42, 0xac, 0x11, 0x00, 0x02],
        [0x02, 0x42, 0xac, 0x11, 0x00, 0x01],
    )
    .ipv4([172, 17, 0, 2], [8, 8, 8, 8], 64)
    .udp(40000, 53);
    let mut f = Vec::new();
    b.write(&mut f, &i.to_be_bytes()).unwrap();
    let mut r = Vec::new();
    r.extend_from_slice(&(1_764_115_200 + i).to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&(f.len() as u32).to_le_bytes());
    r.extend_from_slice(&(f.len() as u32).to_le_bytes());
    r.extend_from_slice(&f);
    r
}

/// Ctrl-C during a replay: it stops after the packet in hand, prints the
/// summary and counters of what it simulated, and exits 130. The capture
/// is long (a million datagrams) so that the interrupt lands mid-replay.
#[test]
fn ctrl_c_prints_the_summary_so_far_and_exits_130() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.pcap");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    // pcap global header: microsecond magic, v2.4, snaplen, Ethernet.
    w.write_all(&0xa1b2c3d4u32.to_le_bytes()).unwrap();
    w.write_all(&2u16.to_le_bytes()).unwrap();
    w.write_all(&4u16.to_le_bytes()).unwrap();
    w.write_all(&[0; 8]).unwrap();
    w.write_all(&65535u32.to_le_bytes()).unwrap();
    w.write_all(&1u32.to_le_bytes()).unwrap();
    let rec = pcap_record(0);
    for _ in 0..1_000_000 {
        w.write_all(&rec).unwrap();
    }
    drop(w);
    let child = Command::new(env!("CARGO_BIN_EXE_fwdsim"))
        .args([
            "replay",
            path.to_str().unwrap(),
            "--host",
            ON,
            "--iif",
            "docker0",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    let n: u64 = err
        .split("fwdsim: interrupted: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no interrupt line: {err}"));
    assert!(0 < n && n < 1_000_000, "{n} packets");
    assert!(
        out.contains(&format!("\n{n} packets\n  forward: {n}\n")),
        "summary missing"
    );
    assert!(
        out.contains(&format!(
            r#"{{"snmp":{{"Ip":{{"InReceives":{n},"ForwDatagrams":{n}"#
        )),
        "counters missing"
    );
}
