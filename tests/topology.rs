//! Topologies on the command line: `topo show` on the bundled fixtures
//! (each made for real by fixtures/topologies/make.sh) and on the
//! hand-written TOML topology, and the errors of loading one.

use std::process::{Command, Output};

fn fwdsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fwdsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run fwdsim")
}

fn links(topology: &str) -> Vec<String> {
    let o = fwdsim(&["topo", "show", topology]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("link ").map(str::to_string))
        .collect()
}

#[test]
fn every_fixture_topology_loads_with_its_links() {
    let docker = ["host/eth0 <-> uplink/up0", "host/veth3a1f2c9 <-> ctr/eth0"];
    for t in [
        "docker-forwarding-off",
        "docker-forwarding-on",
        "docker-forward-drop",
        "docker-no-masquerade",
    ] {
        assert_eq!(links(&format!("fixtures/topologies/{t}")), docker, "{t}");
    }
    assert_eq!(
        links("fixtures/topologies/user-bridge"),
        [
            "host/eth0 <-> uplink/up0",
            "host/veth3a1f2c9 <-> ctr/eth0",
            "host/veth71c0e2d <-> c1/eth0",
            "host/veth9b4d6a1 <-> c2/eth0",
        ]
    );
    assert_eq!(
        links("fixtures/topologies/k8s-pod"),
        [
            "host/eth0 <-> client/eth0",
            "host/cali5f1e2d3c4b6 <-> pod/eth0"
        ]
    );
    let rr = [
        "a/eth0 <-> r1/eth0",
        "r1/eth1 <-> r2/eth1",
        "r2/eth0 <-> b/eth0",
    ];
    assert_eq!(links("fixtures/topologies/two-routers"), rr);
    assert_eq!(links("fixtures/topologies/two-routers.toml"), rr);
}

#[test]
fn the_hand_written_topology_has_the_dumped_ones_routes() {
    let show = |h: &str| {
        let o = fwdsim(&["host", "show", "--host", h]);
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains(" via "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let o = fwdsim(&["topo", "show", "-j", "fixtures/topologies/two-routers.toml"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "r1", "r2"]);
    assert_eq!(v["links"][1]["a"], "r1/eth1");
    assert!(
        show("fixtures/topologies/two-routers/r1")
            .iter()
            .any(|l| l.starts_with("10.0.2.0/24 via 10.0.12.2 dev eth1"))
    );
}

#[test]
fn a_bad_link_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/topologies/two-routers.toml"),
    )
    .unwrap()
    .replace("b = \"b/eth0\"", "b = \"b/eth3\"")
    .replace("path = \"two-routers/b\"", "path = \"a.toml\"");
    std::fs::write(
        dir.path().join("a.toml"),
        "[[interface]]\nname = \"eth0\"\n",
    )
    .unwrap();
    let f = dir.path().join("t.toml");
    std::fs::write(&f, &text).unwrap();
    let line = text.lines().position(|l| l == "b = \"b/eth3\"").unwrap() + 1;
    let o = fwdsim(&["topo", "show", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "fwdsim: {}:{line}: link end \"b/eth3\": no device eth3 in namespace b (its devices: lo, eth0)\n",
            f.display()
        )
    );
}

fn send(args: &[&str]) -> (Option<i32>, String) {
    let o = fwdsim(&[&["send"], args].concat());
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn ping_from_the_container_with_forwarding_off_says_why() {
    let (code, out) = send(&[
        "icmp",
        "8.8.8.8",
        "--from",
        "ctr",
        "--topology",
        "fixtures/topologies/docker-forwarding-off",
    ]);
    assert_eq!(code, Some(2));
    assert_eq!(
        out,
        "ICMP echo request from ctr 172.17.0.2 to 8.8.8.8\n  ctr/eth0 queued\n  ctr/eth0 sent\n  host/veth3a1f2c9 bridged\n  host/docker0 drop IP_INADDRERRORS\n\
         no reply: dropped on host by ip_route_input_slow (no_route): IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) (IP_INADDRERRORS)\n  \
         with host: net.ipv4.ip_forward = 1: the reply reaches ctr after 5 hops\n  \
         with host: net.ipv4.conf.docker0.forwarding = 1: reached uplink/up0; the reply is dropped on host/eth0 (IP_INADDRERRORS)\n"
    );
}

#[test]
fn ping_with_forwarding_on_gets_the_reply_back_through_the_nat() {
    let (code, out) = send(&[
        "icmp",
        "8.8.8.8",
        "--from",
        "ctr",
        "--topology",
        "fixtures/topologies/docker-forwarding-on",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ICMP echo reply from 8.8.8.8 to 10.0.2.15\n"),
        "{out}"
    );
    assert!(
        out.ends_with("reply: ICMP echo reply from 8.8.8.8 reached ctr after 5 hops\n"),
        "{out}"
    );
}

#[test]
fn the_docker_variants_end_where_the_kernel_would() {
    let end = |t: &str| {
        let (_, out) = send(&[
            "icmp",
            "8.8.8.8",
            "--from",
            "ctr",
            "--topology",
            &format!("fixtures/topologies/{t}"),
        ]);
        out.lines().last().unwrap_or("").to_string()
    };
    assert_eq!(
        end("docker-forward-drop"),
        "no reply: dropped on host by nft_do_chain (out): filter FORWARD policy DROP (NETFILTER_DROP)"
    );
    assert_eq!(
        end("docker-no-masquerade"),
        "  with host: iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE: the reply reaches ctr after 5 hops"
    );
}

#[test]
fn send_json_has_hops_reply_and_counters() {
    let (code, out) = send(&[
        "udp",
        "10.0.2.2",
        "--port",
        "53",
        "--from",
        "a",
        "--topology",
        "fixtures/topologies/two-routers.toml",
        "-j",
    ]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ns"], "b");
    assert_eq!(v["drop_reason"], "NO_SOCKET");
    assert_eq!(v["hops"].as_array().unwrap().len(), 9);
    assert_eq!(
        v["hops"][0],
        serde_json::json!({"ns": "a", "dev": "eth0", "verdict": "queued", "drop_reason": null})
    );
    assert_eq!(v["icmp"], serde_json::json!({"type": 3, "code": 3}));
    assert_eq!(v["reply"]["ns"], "a");
    assert_eq!(v["reply"]["verdict"], "local");
    assert_eq!(v["counters"]["r1"]["snmp"]["Ip"]["ForwDatagrams"], 2);
    let (code, out) = send(&[
        "tcp",
        "10.0.2.2",
        "--from",
        "a",
        "--topology",
        "fixtures/topologies/two-routers.toml",
    ]);
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn replay_across_a_topology_carries_the_hops() {
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker.pcapng",
        "--topology",
        "fixtures/topologies/docker-forwarding-on",
        "--at",
        "ctr/eth0",
        "-j",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = &lines[0];
    // The container's frame is sent on its eth0 (its source MAC is eth0's).
    assert_eq!(first["direction"], "sent");
    assert_eq!(
        first["hops"][0],
        serde_json::json!({"ns": "ctr", "dev": "eth0", "verdict": "sent", "drop_reason": null})
    );
    assert_eq!(first["hops"][1]["ns"], "host");
    assert_eq!(first["hops"][1]["verdict"], "bridged");
    // The top-level fields are the last hop's.
    let last = first["hops"].as_array().unwrap().last().unwrap().clone();
    for k in ["ns", "dev", "verdict", "drop_reason"] {
        assert_eq!(first[k], last[k], "{k}");
    }
    assert!(lines.last().unwrap()["summary"].is_object());

    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker.pcapng",
        "--topology",
        "fixtures/topologies/docker-forwarding-off",
        "--at",
        "host/docker0",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("   1  172.17.0.2 > 8.8.8.8 UDP (received on host/docker0): host/docker0 drop IP_INADDRERRORS\n        host/docker0 drop IP_INADDRERRORS\n"),
        "{text}"
    );
    assert!(text.ends_with("summary: 3 drop, 1 local\n"), "{text}");
}

#[test]
fn replay_at_a_missing_namespace_or_device_says_which_exist() {
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker.pcapng",
        "--topology",
        "fixtures/topologies/docker-forwarding-off",
        "--at",
        "ctr/eth7",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "fwdsim: no device \"eth7\" in namespace ctr (its devices: lo, eth0)\n"
    );
}

/// A copy of a fixture topology, to break.
fn copy_topology(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/topologies")
        .join(name);
    let st = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(dir.path().join("t"))
        .status()
        .unwrap();
    assert!(st.success());
    dir
}

#[test]
fn doctor_checks_the_links_between_namespaces() {
    let o = fwdsim(&[
        "doctor",
        "--topology",
        "fixtures/topologies/docker-forwarding-on",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("ctr:\n  no known cause of lost packets found\nhost:\n"),
        "{text}"
    );
    assert!(!text.contains("peer"), "{text}");

    let d = copy_topology("docker-forwarding-on");
    let t = d.path().join("t");
    // The container's gateway is not docker0's address.
    let r = t.join("ctr/route.json");
    let routes = std::fs::read_to_string(&r)
        .unwrap()
        .replace("\"gateway\":\"172.17.0.1\"", "\"gateway\":\"172.17.0.254\"");
    std::fs::write(&r, routes).unwrap();
    // The uplink's link is forgotten: host/eth0 and uplink/up0 have no peer.
    let f = t.join("topology.toml");
    let topo = std::fs::read_to_string(&f)
        .unwrap()
        .replace("[[link]]\na = \"host/eth0\"\nb = \"uplink/up0\"\n", "");
    std::fs::write(&f, topo).unwrap();
    let o = fwdsim(&["doctor", "--topology", t.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("ctr:\n  1. default gateway 172.17.0.254 of ctr is not an address of host/docker0: docker0 has 172.17.0.1"), "{text}");
    assert!(
        text.contains("2. veth eth0 has no peer in the topology"),
        "{text}"
    );
    assert!(
        text.contains("uplink:\n  4. veth up0 has no peer in the topology"),
        "{text}"
    );
}

#[test]
fn trace_across_a_topology_heads_each_namespace_and_device() {
    let o = fwdsim(&[
        "trace",
        "fixtures/pcaps/docker.pcapng",
        "--packet",
        "2",
        "--topology",
        "fixtures/topologies/docker-forwarding-on",
        "--at",
        "ctr/eth0",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("packet 2: 172.17.0.2 > 8.8.8.8 ICMP (sent on ctr/eth0): uplink/up0 local\n== ctr/eth0 sent ==\n== host/veth3a1f2c9 bridged ==\n  br_handle_frame (net/bridge/br_input.c)\n"),
        "{text}"
    );
    for heading in [
        "== host/docker0 forward ==",
        "== host/eth0 sent ==",
        "== uplink/up0 local ==",
    ] {
        assert!(text.contains(heading), "{heading}: {text}");
    }
    // The reply it caused, de-NATed on its way back.
    assert!(text.contains("caused: 8.8.8.8 > 10.0.2.15 ICMP"), "{text}");
    assert!(text.contains("nf_nat_packet: DNAT 10.0.2.15"), "{text}");
}

#[test]
fn the_hand_written_docker_bridge_answers_like_the_dumped_one() {
    let hops = |t: &str| {
        let (code, out) = send(&["icmp", "8.8.8.8", "--from", "ctr", "--topology", t]);
        assert_eq!(code, Some(0), "{out}");
        out
    };
    assert_eq!(
        hops("fixtures/topologies/docker-by-hand.toml"),
        hops("fixtures/topologies/docker-forwarding-on")
    );
}

#[test]
fn a_sysctl_set_in_one_namespace_changes_the_outcome() {
    let (code, out) = send(&[
        "icmp",
        "8.8.8.8",
        "--from",
        "ctr",
        "--topology",
        "fixtures/topologies/docker-forwarding-off",
        "--sysctl",
        "host:net.ipv4.ip_forward=1",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.ends_with("reply: ICMP echo reply from 8.8.8.8 reached ctr after 5 hops\n"),
        "{out}"
    );
    let o = fwdsim(&[
        "send",
        "icmp",
        "8.8.8.8",
        "--from",
        "ctr",
        "--topology",
        "fixtures/topologies/docker-forwarding-off",
        "--sysctl",
        "net.ipv4.ip_forward=1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("name the namespace: NS:KEY=VALUE"));
}

/// `send --script`: the lines run in one topology (the second ping finds
/// the neighbours the first resolved: no ARP in its hops), a bad line is
/// reported as FILE:LINE and left out while the others run (exit 1), and
/// `--out` holds every device's frames, each commented with its line.
#[test]
fn a_script_of_sends_keeps_the_state_and_names_its_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.txt");
    std::fs::write(
        &script,
        "icmp 8.8.8.8 --from ctr\n@0.5 icmp 8.8.8.8 --from nowhere\n@0.25 icmp 8.8.8.8 --from ctr\n@1 icmp 8.8.8.8 --from ctr # again\nudp 8.8.8.8 --from ctr\n",
    )
    .unwrap();
    let out = dir.path().join("f.pcapng");
    let o = fwdsim(&[
        "send",
        "--script",
        script.to_str().unwrap(),
        "--topology",
        "fixtures/topologies/docker-forwarding-on",
        "-j",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let s = script.display();
    for want in [
        format!("fwdsim: {s}:3: @0.25 is earlier than the line before (times only go forward)"),
        format!("fwdsim: {s}:5: send udp: give the destination port with --port N"),
        format!("fwdsim: {s}:2: no namespace \"nowhere\" in the topology (its namespaces: "),
    ] {
        assert!(stderr.contains(&want), "{want}\n{stderr}");
    }
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "lines 1 and 4");
    assert_eq!(
        (lines[0]["line"].as_u64(), lines[0]["at"].as_f64()),
        (Some(1), Some(0.0))
    );
    assert_eq!(
        (lines[1]["line"].as_u64(), lines[1]["at"].as_f64()),
        (Some(4), Some(1.0))
    );
    let first_hop = |l: &serde_json::Value| l["hops"][0]["verdict"].as_str().map(str::to_string);
    assert_eq!(first_hop(&lines[0]).as_deref(), Some("queued"), "ARP first");
    assert_eq!(
        first_hop(&lines[1]).as_deref(),
        Some("sent"),
        "resolved already"
    );
    for l in &lines {
        assert_eq!(l["reply"]["ns"], "ctr", "{l}");
    }
    let mut r = fwdsim_pcap::CaptureReader::open(&out).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        seen.insert((
            p.iif_name.unwrap_or("").to_string(),
            p.comment.unwrap_or("").to_string(),
        ));
    }
    for (dev, line) in [
        ("ctr/eth0", "line 1"),
        ("host/docker0", "line 1"),
        ("host/eth0", "line 4"),
        ("uplink/up0", "line 4"),
    ] {
        assert!(
            seen.contains(&(dev.to_string(), line.to_string())),
            "{dev} {line}: {seen:?}"
        );
    }
}
