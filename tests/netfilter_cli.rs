//! The netfilter answers of the command line on the Docker host: a
//! firewall reload that left FORWARD at DROP without Docker's chains, and
//! Docker 28's own ruleset. The verdicts, drop reason and counters are the
//! kernel's for the same rules (kernel-notes.md, "Netfilter on this path":
//! the FORWARD drop is counted in ForwDatagrams, nothing is transmitted,
//! no ICMP).

use std::process::{Command, Output};

fn fwdsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fwdsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run fwdsim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const RELOADED: &str = "fixtures/hosts/docker-firewall-reloaded.toml";
const DOCKER28: &str = "fixtures/hosts/docker-28.toml";
const CAPTURE: &str = "fixtures/pcaps/docker.pcapng";

#[test]
fn replay_names_the_forward_policy_that_dropped_the_containers_packets() {
    let o = fwdsim(&["replay", CAPTURE, "--host", RELOADED]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1..4],
        [
            "     1  docker0    drop     NETFILTER_DROP         via 10.0.2.2 dev eth0                -",
            "        dropped by filter FORWARD policy DROP",
            "     2  docker0    drop     NETFILTER_DROP         via 10.0.2.2 dev eth0                -",
        ],
        "{out}"
    );
    assert!(
        out.contains(
            "    decided by nft_do_chain: filter FORWARD policy DROP -> out\n    what would change it:\n      with `iptables -P FORWARD ACCEPT`: forwarded via 10.0.2.2 dev eth0\n      with `iptables -I FORWARD -i docker0 -o eth0 -j ACCEPT`: forwarded via 10.0.2.2 dev eth0\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(r#""Ip":{"InReceives":4,"ForwDatagrams":3,"InDelivers":1,"OutRequests":1,"OutTransmits":1}"#),
        "{out}"
    );
}

#[test]
fn replay_json_carries_each_packets_netfilter_decisions() {
    let o = fwdsim(&["replay", CAPTURE, "--host", RELOADED, "-j"]);
    let out = stdout(&o);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["verdict"], "drop");
    assert_eq!(first["drop_reason"], "NETFILTER_DROP");
    assert_eq!(
        first["netfilter"],
        // No rule takes conntrack: the nat table's chains do not run.
        serde_json::json!([{"hook": "FORWARD", "table": "filter", "chain": "FORWARD",
            "rule": null, "policy": true, "verdict": "DROP"}])
    );
    // A host without rules has no netfilter key.
    let o = fwdsim(&[
        "replay",
        CAPTURE,
        "--host",
        "fixtures/hosts/docker-forwarding-on.toml",
        "-j",
    ]);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert!(first.get("netfilter").is_none());
}

#[test]
fn save_counters_writes_iptables_save_c_counted_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("counters.txt");
    let o = fwdsim(&[
        "replay",
        CAPTURE,
        "--host",
        DOCKER28,
        "--save-counters",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(&file).unwrap();
    let filter: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "*filter")
        .take_while(|l| *l != "COMMIT")
        .collect();
    assert_eq!(
        filter,
        [
            "*filter",
            ":INPUT ACCEPT [1:84]",
            ":FORWARD DROP [0:0]",
            ":OUTPUT ACCEPT [1:84]",
            ":DOCKER - [0:0]",
            ":DOCKER-BRIDGE - [0:0]",
            ":DOCKER-CT - [0:0]",
            ":DOCKER-FORWARD - [0:0]",
            ":DOCKER-ISOLATION-STAGE-1 - [0:0]",
            ":DOCKER-ISOLATION-STAGE-2 - [0:0]",
            ":DOCKER-USER - [0:0]",
            "[3:181] -A FORWARD -j DOCKER-USER",
            "[3:181] -A FORWARD -j DOCKER-FORWARD",
            "[0:0] -A DOCKER ! -i docker0 -o docker0 -j DROP",
            "[0:0] -A DOCKER-BRIDGE -o docker0 -j DOCKER",
            "[0:0] -A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "[3:181] -A DOCKER-FORWARD -j DOCKER-CT",
            "[3:181] -A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1",
            "[3:181] -A DOCKER-FORWARD -j DOCKER-BRIDGE",
            "[3:181] -A DOCKER-FORWARD -i docker0 -j ACCEPT",
            "[3:181] -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
            "[0:0] -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
        ],
        "{text}"
    );
}

#[test]
fn doctor_finds_forward_drop_with_dockers_chains_gone() {
    let o = fwdsim(&["doctor", "--host", RELOADED]);
    let out = stdout(&o);
    assert!(
        out.starts_with("1. filter FORWARD policy DROP drops what docker0 forwards: a packet from 172.17.0.2 on docker0 to 8.8.8.8 is routed out eth0 and dropped in NF_INET_FORWARD by filter FORWARD policy DROP (NETFILTER_DROP, no ICMP); Docker's chains (DOCKER-FORWARD, DOCKER) are missing"),
        "{out}"
    );
}

#[test]
fn explain_goes_on_through_netfilter_after_the_route_decision() {
    let o = fwdsim(&[
        "explain",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        RELOADED,
    ]);
    assert_eq!(
        stdout(&o),
        "8.8.8.8 from 172.17.0.2 iif docker0: 8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 (forwarded)\n\
         but netfilter drops it: an ICMP echo request 172.17.0.2 -> 8.8.8.8 arriving on docker0 is dropped by filter FORWARD policy DROP (NETFILTER_DROP)\n\
         what would change it:\n  \
         with `iptables -P FORWARD ACCEPT`: forwarded via 10.0.2.2 dev eth0\n  \
         with `iptables -I FORWARD -i docker0 -o eth0 -j ACCEPT`: forwarded via 10.0.2.2 dev eth0\n"
    );
}

/// Verifies the one's-complement sum of `b` (a header whose checksum field
/// is filled in sums to 0xffff).
fn csum_ok(b: &[u8], pseudo: u32) -> bool {
    let mut sum = pseudo;
    for c in b.chunks(2) {
        sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn pseudo(ip: &[u8]) -> u32 {
    let mut s = 0u32;
    for c in ip[12..20].chunks(2) {
        s += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    s + ip[9] as u32 + (ip.len() - 20) as u32
}

#[test]
fn masquerade_rewrites_the_containers_flows_and_translates_the_replies_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pcapng");
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker-masquerade.pcapng",
        "--host",
        DOCKER28,
        "-j",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = stdout(&o);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verdicts: Vec<(&str, &str)> = lines[..7]
        .iter()
        .map(|l| (l["iif"].as_str().unwrap(), l["verdict"].as_str().unwrap()))
        .collect();
    let (c, e) = (("docker0", "forward"), ("eth0", "forward"));
    assert_eq!(verdicts, [c, e, c, e, c, e, c]);
    assert_eq!(
        lines[7]["snmp"]["Ip"],
        serde_json::json!({"InReceives": 7, "ForwDatagrams": 7, "OutTransmits": 7})
    );
    let mut r = fwdsim_pcap::CaptureReader::open(&out).unwrap();
    let mut frames = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        frames.push((p.iif_name.unwrap().to_string(), p.frame.to_vec()));
    }
    assert_eq!(frames.len(), 7);
    for (i, (dev, f)) in frames.iter().enumerate() {
        let ip = &f[14..];
        let (src, dst) = (&ip[12..16], &ip[16..20]);
        if i % 2 == 0 {
            // Out eth0 from the host's address, to the gateway's MAC.
            assert_eq!(
                (dev.as_str(), src),
                ("eth0", &[10, 0, 2, 15][..]),
                "frame {i}"
            );
            assert_eq!(&f[..6], &[0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
        } else {
            // Back to the container on docker0.
            assert_eq!(
                (dev.as_str(), dst),
                ("docker0", &[172, 17, 0, 2][..]),
                "frame {i}"
            );
            assert_eq!(&f[..6], &[0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        }
        assert!(csum_ok(&ip[..20], 0), "IP checksum of frame {i}");
        let l4 = &ip[20..];
        let ok = match ip[9] {
            1 => csum_ok(l4, 0),
            _ => csum_ok(l4, pseudo(ip)),
        };
        assert!(ok, "L4 checksum of frame {i}");
    }
}

#[test]
fn docker_29s_nftables_ruleset_masquerades_both_ways_from_a_snapshot() {
    let o = fwdsim(&[
        "replay",
        "fixtures/pcaps/docker-masquerade.pcapng",
        "--host",
        "fixtures/hosts/docker-29-nft",
    ]);
    let out = stdout(&o);
    let notes: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("        "))
        .map(str::trim)
        .collect();
    assert_eq!(
        notes,
        [
            "SNAT 172.17.0.2:53000 -> 10.0.2.15:53000",
            "DNAT 10.0.2.15:53000 -> 172.17.0.2:53000",
            "SNAT 172.17.0.2 id 4660 -> 10.0.2.15 id 4660",
            "DNAT 10.0.2.15 id 4660 -> 172.17.0.2 id 4660",
            "SNAT 172.17.0.2:40000 -> 10.0.2.15:40000",
            "DNAT 10.0.2.15:40000 -> 172.17.0.2:40000",
            "SNAT 172.17.0.2:40000 -> 10.0.2.15:40000",
        ],
        "{out}"
    );
    // Nothing to say about the ip6 table on stderr.
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
}

#[test]
fn conntrack_list_gives_the_replay_the_connections_opened_before_the_capture() {
    let base = [
        "replay",
        "fixtures/pcaps/docker-answer-only.pcapng",
        "--host",
        DOCKER28,
        "-j",
    ];
    let first = |o: &Output| -> serde_json::Value {
        serde_json::from_str(stdout(o).lines().next().unwrap()).unwrap()
    };
    // Without the connection the answer is for the host, which has no socket.
    let o = fwdsim(&base);
    assert_eq!(first(&o)["drop_reason"], "NO_SOCKET");
    let mut args = base.to_vec();
    args.extend(["--conntrack", "fixtures/netfilter/docker-dns.conntrack.txt"]);
    let o = fwdsim(&args);
    let l = first(&o);
    assert_eq!(
        (l["verdict"].as_str(), l["route"]["dev"].as_str()),
        (Some("forward"), Some("docker0"))
    );
    assert_eq!(
        l["netfilter"][0],
        serde_json::json!({"hook": "PREROUTING", "ctstate": "ESTABLISHED (reply)"})
    );
    assert_eq!(
        l["netfilter"][1],
        serde_json::json!({"hook": "PREROUTING", "nat": "DNAT 10.0.2.15:53000 -> 172.17.0.2:53000"})
    );
}

// The snapshots made by fixtures/hosts/make-netfilter-hosts.sh. Each one's
// kernel.txt holds what the kernel did with a capture's frames (sent in
// from peer namespaces by kernel-replay.py): the frames it sent out, then
// `iptables-save -c`. fwdsim must send out the same frames and count the
// same packets in every rule and policy.

const DOCKER27: &str = "fixtures/hosts/docker-27";
const UFW: &str = "fixtures/hosts/docker-ufw";
const FIREWALLD: &str = "fixtures/hosts/docker-firewalld-reloaded";
const PUBLISHED: &str = "fixtures/pcaps/published-port.pcapng";
const MASQ: &str = "fixtures/pcaps/docker-masquerade.pcapng";

/// Section `n` (0-based) of a kernel.txt: the `out DEV: ...` lines and the
/// `iptables-save -c` lines.
fn kernel_said(dir: &str, n: usize) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(format!("{dir}/kernel.txt")).unwrap();
    let sections: Vec<&str> = text.split("# kernel: 6.").skip(1).collect();
    let s = sections[n];
    let out = s
        .lines()
        .filter_map(|l| l.strip_prefix("# kernel:   out "))
        .map(str::to_string)
        .collect();
    let counters = s
        .lines()
        .skip_while(|l| *l != "# iptables-save -c after:")
        .skip(1)
        .take_while(|l| !l.starts_with("# "))
        .map(str::to_string)
        .collect();
    (out, counters)
}

/// A frame as kernel-replay.py describes it.
fn describe(f: &[u8]) -> String {
    let ip4 = |b: &[u8]| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
    let ip = &f[14..];
    let ihl = (ip[0] & 0xf) as usize * 4;
    let (src, dst, l4) = (ip4(&ip[12..16]), ip4(&ip[16..20]), &ip[ihl..]);
    let port = |i: usize| u16::from_be_bytes([l4[i], l4[i + 1]]);
    match ip[9] {
        6 => {
            let flags: String = "FSRPAU"
                .chars()
                .enumerate()
                .filter(|(bit, _)| l4[13] >> bit & 1 == 1)
                .map(|(_, c)| c)
                .collect();
            format!(
                "TCP {src}:{} -> {dst}:{} [{flags}] ttl {}",
                port(0),
                port(2),
                ip[8]
            )
        }
        17 => format!("UDP {src}:{} -> {dst}:{} ttl {}", port(0), port(2), ip[8]),
        1 => format!(
            "ICMP {src} -> {dst} type {} code {} ttl {}",
            l4[0], l4[1], ip[8]
        ),
        p => format!("IP proto {p} {src} -> {dst} ttl {}", ip[8]),
    }
}

/// What fwdsim sends out for `capture` on `host` (as `DEV: frame`) and its
/// `--save-counters` file, without the `#` lines.
fn fwdsim_did(capture: &str, host: &str) -> (Vec<String>, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pcapng");
    let counters = dir.path().join("counters.txt");
    let o = fwdsim(&[
        "replay",
        capture,
        "--host",
        host,
        "--out",
        out.to_str().unwrap(),
        "--save-counters",
        counters.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let mut r = fwdsim_pcap::CaptureReader::open(&out).unwrap();
    let mut sent = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        sent.push(format!("{}: {}", p.iif_name.unwrap(), describe(p.frame)));
    }
    let counters = std::fs::read_to_string(&counters)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    (sent, counters, stdout(&o))
}

/// The indented note lines of a replay's text.
fn notes(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.starts_with("        "))
        .map(str::trim)
        .collect()
}

#[test]
fn docker_27_masquerades_as_the_kernel_did() {
    let (sent, counters, out) = fwdsim_did(MASQ, DOCKER27);
    let (k_sent, k_counters) = kernel_said(DOCKER27, 0);
    assert_eq!(sent, k_sent, "{out}");
    assert_eq!(counters, k_counters);
    assert_eq!(
        sent,
        [
            "eth0: UDP 10.0.2.15:53000 -> 8.8.8.8:53 ttl 63",
            "docker0: UDP 8.8.8.8:53 -> 172.17.0.2:53000 ttl 57",
            "eth0: ICMP 10.0.2.15 -> 8.8.8.8 type 8 code 0 ttl 63",
            "docker0: ICMP 8.8.8.8 -> 172.17.0.2 type 0 code 0 ttl 57",
            "eth0: TCP 10.0.2.15:40000 -> 93.184.216.34:443 [S] ttl 63",
            "docker0: TCP 93.184.216.34:443 -> 172.17.0.2:40000 [SA] ttl 57",
            "eth0: TCP 10.0.2.15:40000 -> 93.184.216.34:443 [A] ttl 63",
        ]
    );
    // Docker 27's FORWARD rules, counted: the replies by the conntrack
    // rule, the container's packets by `-i docker0 ! -o docker0`.
    let rules: Vec<&str> = counters
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("[") && l.contains("-A FORWARD"))
        .collect();
    assert_eq!(
        rules,
        [
            "[7:418] -A FORWARD -j DOCKER-USER",
            "[7:418] -A FORWARD -j DOCKER-ISOLATION-STAGE-1",
            "[3:197] -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "[0:0] -A FORWARD -o docker0 -j DOCKER",
            "[4:221] -A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
            "[0:0] -A FORWARD -i docker0 -o docker0 -j ACCEPT",
        ]
    );
}

#[test]
fn explain_adds_the_missing_masquerade_and_re_runs_the_packet() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("no-masquerade.toml");
    let text = std::fs::read_to_string(DOCKER28).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.contains("MASQUERADE"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&host, text).unwrap();
    let o = fwdsim(&[
        "explain",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        host.to_str().unwrap(),
    ]);
    assert_eq!(
        stdout(&o),
        "8.8.8.8 from 172.17.0.2 iif docker0: 8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 (forwarded)\n\
         netfilter: no NAT rule matched it: 172.17.0.2 leaves eth0 with its private source, so its replies cannot come back\n\
         what would change it:\n  \
         with `iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE`: 8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 (forwarded); NAT: SNAT 172.17.0.2 id 4660 -> 10.0.2.15 id 4660\n"
    );
    let o = fwdsim(&["doctor", "--host", host.to_str().unwrap()]);
    assert!(
        stdout(&o).starts_with("1. 172.17.0.0/16 leaves eth0 without SNAT: "),
        "{}",
        stdout(&o)
    );
}

#[test]
fn docker_27_publishes_8080_and_resets_22_as_the_kernel_did() {
    let (sent, counters, out) = fwdsim_did(PUBLISHED, DOCKER27);
    let (k_sent, k_counters) = kernel_said(DOCKER27, 1);
    assert_eq!(sent, k_sent, "{out}");
    assert_eq!(counters, k_counters);
    assert_eq!(
        sent,
        [
            "docker0: TCP 203.0.113.7:50000 -> 172.17.0.2:80 [S] ttl 57",
            "eth0: TCP 10.0.2.15:22 -> 203.0.113.7:50001 [RA] ttl 64",
        ]
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1..5],
        [
            "     1  eth0       forward  -                      dev docker0                          -",
            "        DNAT 10.0.2.15:8080 -> 172.17.0.2:80",
            "     2  eth0       drop     NO_SOCKET              local dev lo                         -",
            "",
        ],
        "{out}"
    );
}

#[test]
fn ufw_deny_8080_does_not_stop_the_published_port() {
    let (sent, counters, out) = fwdsim_did(PUBLISHED, UFW);
    let (k_sent, k_counters) = kernel_said(UFW, 0);
    assert_eq!(sent, k_sent, "{out}");
    assert_eq!(counters, k_counters);
    // The SYN to 8080 is DNATed in nat PREROUTING and forwarded to the
    // container; the SYN to 22 meets ufw's INPUT chains and its deny rule.
    assert_eq!(
        sent,
        ["docker0: TCP 203.0.113.7:50000 -> 172.17.0.2:80 [S] ttl 57"]
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1..5],
        [
            "     1  eth0       forward  -                      dev docker0                          -",
            "        DNAT 10.0.2.15:8080 -> 172.17.0.2:80",
            "     2  eth0       drop     NETFILTER_DROP         local dev lo                         -",
            "        dropped by filter ufw-user-input rule iptables.txt:111: -A ufw-user-input -p tcp -m tcp --dport 22 -j DROP",
        ],
        "{out}"
    );
    // ufw's own deny for 8080 is there, and counts nothing.
    assert!(
        counters
            .contains(&"[0:0] -A ufw-user-input -p tcp -m tcp --dport 8080 -j DROP".to_string()),
        "{counters:?}"
    );
    let o = fwdsim(&["replay", PUBLISHED, "--host", UFW, "-j"]);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    let chains: Vec<String> = first["netfilter"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| Some(format!("{} {}", d["hook"].as_str()?, d["chain"].as_str()?)))
        .collect();
    assert_eq!(
        chains,
        [
            "PREROUTING DOCKER",
            "FORWARD DOCKER",
            "POSTROUTING POSTROUTING"
        ]
    );
    assert_eq!(
        first["netfilter"][2]["nat"],
        "DNAT 10.0.2.15:8080 -> 172.17.0.2:80"
    );
}

#[test]
fn trace_shows_the_published_port_never_meets_ufws_chains() {
    let o = fwdsim(&["trace", PUBLISHED, "--packet", "1", "--host", UFW]);
    let out = stdout(&o);
    assert!(
        out.contains("    nf_nat_packet: DNAT 10.0.2.15:8080 -> 172.17.0.2:80\n"),
        "{out}"
    );
    assert!(
        out.contains("      nft_do_chain: rule iptables.txt:66: -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT matches = 1\n"),
        "{out}"
    );
    assert!(!out.contains("ufw-"), "{out}");
    assert!(
        out.ends_with("result: forward, dst.input = ip_forward\n"),
        "{out}"
    );
}

#[test]
fn firewalld_reload_leaves_the_iptables_forward_drop_ahead_of_its_table() {
    let (sent, counters, out) = fwdsim_did(CAPTURE, FIREWALLD);
    let (k_sent, k_counters) = kernel_said(FIREWALLD, 0);
    assert_eq!(sent, k_sent, "{out}");
    // Only the base chain iptables-nft kept (FORWARD, policy DROP) counts:
    // the others iptables-save prints are not in the kernel.
    assert_eq!(counters, k_counters);
    assert!(counters.contains(&":FORWARD DROP [3:181]".to_string()));
    assert!(counters.contains(&":INPUT ACCEPT [0:0]".to_string()));
    assert_eq!(
        sent,
        ["docker0: ICMP 172.17.0.1 -> 172.17.0.2 type 0 code 0 ttl 64"]
    );
    assert_eq!(
        notes(&out),
        ["dropped by filter FORWARD policy DROP"; 3],
        "{out}"
    );
    // ip filter FORWARD (priority 0) drops before firewalld's
    // filter_FORWARD (priority filter + 10), which would accept docker0;
    // the ping to the host is accepted by firewalld's zone trusted.
    let o = fwdsim(&["replay", CAPTURE, "--host", FIREWALLD, "-j"]);
    let text = stdout(&o);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps = |i: usize| -> Vec<String> {
        lines[i]["netfilter"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| {
                let t = d["table"].as_str().or(d["nft_table"].as_str())?;
                Some(format!(
                    "{} {t} {} {}",
                    d["hook"].as_str()?,
                    d["chain"].as_str()?,
                    d["verdict"].as_str()?
                ))
            })
            .collect()
    };
    assert_eq!(
        steps(0),
        [
            "PREROUTING inet firewalld mangle_PREROUTING ACCEPT",
            "PREROUTING inet firewalld nat_PREROUTING ACCEPT",
            "PREROUTING inet firewalld filter_PREROUTING ACCEPT",
            "FORWARD filter FORWARD DROP",
        ]
    );
    assert_eq!(
        steps(3),
        [
            "PREROUTING inet firewalld mangle_PREROUTING ACCEPT",
            "PREROUTING inet firewalld nat_PREROUTING ACCEPT",
            "PREROUTING inet firewalld filter_PREROUTING ACCEPT",
            "INPUT inet firewalld filter_IN_trusted ACCEPT",
            "OUTPUT inet firewalld filter_OUTPUT ACCEPT",
        ]
    );
    let o = fwdsim(&["doctor", "--host", FIREWALLD]);
    assert!(
        stdout(&o).starts_with("1. filter FORWARD policy DROP drops what docker0 forwards: a packet from 172.17.0.2 on docker0 to 8.8.8.8 is routed out eth0 and dropped in NF_INET_FORWARD by filter FORWARD policy DROP (NETFILTER_DROP, no ICMP); Docker's chains (DOCKER-FORWARD, DOCKER) are missing"),
        "{}",
        stdout(&o)
    );
}
