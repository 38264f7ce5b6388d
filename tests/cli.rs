//! Black-box tests of the `fwdsim` binary on the bundled fixtures: output
//! formats, exit statuses and error lines. Semantics are checked against the
//! kernel by the kernel_* suites; these pin what the contract fixes
//! (interfaces.md sections 1, 2 and 4).

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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const OFF: &str = "fixtures/hosts/docker-forwarding-off.toml";
const ON: &str = "fixtures/hosts/docker-forwarding-on.toml";

#[test]
fn forwarding_off_is_no_route_to_host() {
    let o = fwdsim(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        OFF,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "RTNETLINK answers: No route to host\n");
    assert_eq!(stdout(&o), "");
}

#[test]
fn forwarding_off_json_names_errno_and_drop_reason() {
    let o = fwdsim(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        OFF,
        "-j",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["errno"], "EHOSTUNREACH");
    assert_eq!(v["message"], "No route to host");
    assert_eq!(v["drop_reason"], "IP_INADDRERRORS");
}

#[test]
fn forwarding_on_prints_what_ip_route_get_prints() {
    let o = fwdsim(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        ON,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 \n    cache iif docker0 \n"
    );
    let o = fwdsim(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        ON,
        "-j",
    ]);
    assert_eq!(
        stdout(&o),
        "[{\"dst\":\"8.8.8.8\",\"from\":\"172.17.0.2\",\"gateway\":\"10.0.2.2\",\"dev\":\"eth0\",\"flags\":[],\"cache\":[],\"iif\":\"docker0\"}]\n"
    );
}

#[test]
fn sysctl_override_turns_forwarding_on() {
    let o = fwdsim(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        OFF,
        "--sysctl",
        "net.ipv4.ip_forward=1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 "));
}

#[test]
fn trace_shows_the_no_route_walk() {
    let o = fwdsim(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        OFF,
        "--trace",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    assert!(
        out.contains("ip_route_input_slow (net/ipv4/route.c)"),
        "{out}"
    );
    assert!(
        out.contains(
            "IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) -> no_route"
        ),
        "{out}"
    );
    assert!(out.contains("dst.input = ip_error"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[lines.len() - 2].contains("SKB_DROP_REASON_IP_INADDRERRORS"),
        "{out}"
    );
    assert_eq!(
        lines[lines.len() - 1],
        "why: decided by ip_route_input_slow: IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) -> no_route; `fwdsim explain` lists what would change it"
    );
    let o = fwdsim(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        OFF,
        "--trace",
        "-j",
    ]);
    let first = stdout(&o).lines().next().unwrap().to_string();
    let steps: serde_json::Value = serde_json::from_str(&first).unwrap();
    let steps = steps.as_array().unwrap();
    assert!(
        steps
            .iter()
            .all(|s| s.get("function").is_some() && s.get("branch").is_some())
    );
    assert!(steps.iter().any(|s| s["branch"] == "no_route"));
}

#[test]
fn without_iif_the_output_path_answers() {
    let o = fwdsim(&["route", "get", "8.8.8.8", "--host", ON]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "8.8.8.8 via 10.0.2.2 dev eth0 src 10.0.2.15 uid 0 \n    cache \n"
    );
}

#[test]
fn bad_inputs_are_one_line_and_exit_1() {
    let cases: &[&[&str]] = &[
        &[
            "route",
            "get",
            "8.8.8.8",
            "iif",
            "docker0",
            "--host",
            "fixtures/hosts/no-such-host.toml",
        ],
        &["route", "get", "8.8.8.8", "iif", "nosuch0", "--host", OFF],
        &["route", "get", "8.8.8.300", "iif", "docker0", "--host", OFF],
        &[
            "route",
            "get",
            "8.8.8.8",
            "--host",
            OFF,
            "--sysctl",
            "net.ipv4.no_such_key=1",
        ],
    ];
    for args in cases {
        let o = fwdsim(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
        assert!(e.starts_with("fwdsim: "), "{e}");
    }
}

/// A copy of the bundled snapshot with one file replaced.
fn snapshot_with(file: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hosts/router-snapshot");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    std::fs::write(dir.path().join(file), text).unwrap();
    dir
}

fn one_error_line(args: &[&str]) -> String {
    let o = fwdsim(args);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    e
}

#[test]
fn snapshot_errors_name_the_file_and_position() {
    let d = snapshot_with("route.json", "[{\"dst\": \"10.0.0.0/8\",\n  \"dev\": }]");
    let e = one_error_line(&[
        "route",
        "get",
        "1.1.1.1",
        "--host",
        d.path().to_str().unwrap(),
    ]);
    assert!(e.contains("route.json:2:"), "{e}");
    let d = snapshot_with(
        "addr.json",
        "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\",\"UP\"],\"mtu\":65536,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"addr_info\":[]},{\"ifindex\":1,\"ifname\":\"r0\",\"flags\":[\"UP\"],\"mtu\":1500,\"link_type\":\"ether\",\"address\":\"02:00:00:00:00:02\",\"addr_info\":[]}]",
    );
    let e = one_error_line(&[
        "route",
        "get",
        "1.1.1.1",
        "--host",
        d.path().to_str().unwrap(),
    ]);
    assert!(e.contains("addr.json") && e.contains("ifindex 1"), "{e}");
    let d = tempfile::tempdir().unwrap();
    let e = one_error_line(&[
        "route",
        "get",
        "1.1.1.1",
        "--host",
        d.path().to_str().unwrap(),
    ]);
    assert!(e.contains("addr.json"), "{e}");
}

#[test]
fn toml_errors_name_the_file_and_position() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.toml");
    std::fs::write(&p, "routes = [\"default via 10.0.0.1 dev eth9\"]\n[[interface]]\nname = \"eth0\"\naddresses = [\"10.0.0.2/24\"]\n").unwrap();
    let e = one_error_line(&["host", "show", "--host", p.to_str().unwrap()]);
    assert!(e.contains("bad.toml") && e.contains("eth9"), "{e}");
    std::fs::write(
        &p,
        "[[interface]]\nname = \"eth0\"\naddresses = [\"10.0.0.300/24\"]\n",
    )
    .unwrap();
    let e = one_error_line(&["host", "show", "--host", p.to_str().unwrap()]);
    assert!(e.contains("bad.toml") && e.contains("10.0.0.300"), "{e}");
    std::fs::write(&p, "[[interface]]\nname = \"eth0\"\nadresses = []\n").unwrap();
    let e = one_error_line(&["host", "show", "--host", p.to_str().unwrap()]);
    assert!(e.contains("bad.toml:3:"), "{e}");
}

#[test]
fn sysctl_origin_names_the_file_that_wins_at_boot() {
    let o = fwdsim(&[
        "sysctl",
        "origin",
        "net.ipv4.ip_forward",
        "--root",
        "fixtures/sysctl/cloud-image",
        "--host",
        ON,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("  /etc/sysctl.d/99-docker.conf:2  net.ipv4.ip_forward = 1\n"),
        "{out}"
    );
    assert!(
        out.contains("  /etc/sysctl.conf:3  net.ipv4.ip_forward = 0   <- wins at boot\n"),
        "{out}"
    );
    assert!(
        out.contains("live value 1") && out.contains("lost at the next boot"),
        "{out}"
    );
    let o = fwdsim(&[
        "sysctl",
        "origin",
        "net.inet.ip.forwarding",
        "--root",
        "fixtures/sysctl/cloud-image",
    ]);
    assert!(stderr(&o).contains("on Linux it is net.ipv4.ip_forward"));
    let o = fwdsim(&[
        "sysctl",
        "origin",
        "net/ipv4/conf/eth0/rp_filter",
        "--root",
        "fixtures/sysctl/cloud-image",
    ]);
    assert!(
        stdout(&o).contains(
            "/usr/lib/sysctl.d/50-default.conf:3  net.ipv4.conf.*.rp_filter = 2   <- wins at boot"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn completions_man_page_and_version() {
    let o = fwdsim(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("_fwdsim()"));
    let o = fwdsim(&["man"]);
    assert!(stdout(&o).contains(".TH fwdsim 1"));
    let o = fwdsim(&["--version"]);
    assert_eq!(
        stdout(&o),
        format!("fwdsim {}\n", env!("CARGO_PKG_VERSION"))
    );
    for sub in [
        &["route", "get", "--help"][..],
        &["replay", "--help"],
        &["trace", "--help"],
        &["host", "dump", "--help"],
        &["sysctl", "origin", "--help"],
    ] {
        let o = fwdsim(sub);
        assert!(stdout(&o).contains("Example"), "{sub:?} has examples");
    }
}

#[test]
fn explain_names_the_cause_and_the_changes_that_help() {
    let o = fwdsim(&[
        "explain",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        OFF,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let l: Vec<&str> = out.lines().collect();
    assert!(l[0].ends_with("SKB_DROP_REASON_IP_INADDRERRORS"), "{out}");
    assert_eq!(
        l[1],
        "decided by ip_route_input_slow: IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) -> no_route"
    );
    assert!(l[3].starts_with("  with net.ipv4.ip_forward = 1: 8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 (forwarded)"), "{out}");
    assert!(l[3].contains("without SNAT (masquerade) on eth0"), "{out}");
    let o = fwdsim(&[
        "explain",
        "192.168.1.10",
        "from",
        "198.51.100.7",
        "iif",
        "isp1",
        "--host",
        "fixtures/hosts/rp-filter-asymmetric.toml",
    ]);
    let out = stdout(&o);
    assert!(out.contains("SKB_DROP_REASON_IP_RPFILTER"), "{out}");
    assert!(out.contains("  with net.ipv4.conf.isp1.rp_filter = 2: 192.168.1.10 from 198.51.100.7 dev lan0 (forwarded)"), "{out}");
}

#[test]
fn explain_proposes_a_default_route_when_nothing_matched() {
    let o = fwdsim(&[
        "explain",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        "crates/host/tests/data/no-default-route.toml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let note = |d: &str| {
        format!(
            "; note that 172.17.0.2 is a private address: without SNAT (masquerade) on {d} its replies cannot come back"
        )
    };
    assert_eq!(
        stdout(&o),
        format!(
            "8.8.8.8 from 172.17.0.2 iif docker0: ENETUNREACH (Network is unreachable); a packet is dropped with SKB_DROP_REASON_IP_INNOROUTES\n\
             decided by ip_route_input_slow: fib_lookup = -ENETUNREACH (Network is unreachable)\n\
             what would change it:\n  \
             with ip route add default via 10.0.2.2 dev eth0: 8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 (forwarded){}\n  \
             with ip route add default dev eth1: 8.8.8.8 from 172.17.0.2 dev eth1 (forwarded){}\n",
            note("eth0"),
            note("eth1")
        )
    );
}

#[test]
fn doctor_puts_ip_forward_first_on_the_docker_host() {
    let o = fwdsim(&["doctor", "--host", OFF]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.lines()
            .next()
            .unwrap()
            .starts_with("1. net.ipv4.ip_forward = 0: "),
        "{out}"
    );
    let o = fwdsim(&["doctor", "--host", ON]);
    assert_eq!(stdout(&o), "no known cause of lost packets found\n");
    let o = fwdsim(&["doctor", "--host", "fixtures/hosts/reject-routes.toml"]);
    assert!(
        stdout(&o)
            .contains("1. blackhole 192.0.2.0/26: this route is more specific than 0.0.0.0/0"),
        "{}",
        stdout(&o)
    );
    let o = fwdsim(&[
        "doctor",
        "--host",
        "fixtures/hosts/docker-gateway-unresolved.toml",
    ]);
    assert!(
        stdout(&o).starts_with("1. default gateway 10.0.2.2 on eth0: no ARP entry: packets for the Internet wait in the neighbour queue"),
        "{}",
        stdout(&o)
    );
    let o = fwdsim(&["doctor", "--host", "fixtures/hosts/docker-small-mtu.toml"]);
    assert!(
        stdout(&o).starts_with("1. MTU 1280 on eth0 but 1500 on docker0"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn sysctl_set_changes_the_host_file_as_sysctl_w_does() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host.toml");
    std::fs::copy(OFF, &host).unwrap();
    let h = host.to_str().unwrap();
    let o = fwdsim(&["sysctl", "get", "net.ipv4.ip_forward", "--host", h]);
    assert_eq!(stdout(&o), "net.ipv4.ip_forward = 0\n");
    let o = fwdsim(&["sysctl", "set", "net.ipv4.ip_forward=1", "--host", h]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("net.ipv4.ip_forward = 1\n"), "{out}");
    assert!(
        out.contains("  also changed: net.ipv4.conf.docker0.forwarding 0 -> 1\n"),
        "{out}"
    );
    // The edited file gives the answer `--sysctl net.ipv4.ip_forward=1` gives.
    let o = fwdsim(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        h,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("8.8.8.8 from 172.17.0.2 via 10.0.2.2 dev eth0 "));
    let o = fwdsim(&[
        "sysctl",
        "get",
        "-n",
        "net.ipv4.conf.eth0.forwarding",
        "--host",
        h,
    ]);
    assert_eq!(stdout(&o), "1\n");
    // Bad input: one line, exit 1, the file untouched.
    let before = std::fs::read_to_string(&host).unwrap();
    let e = one_error_line(&["sysctl", "set", "net.ipv4.ip_forward=yes", "--host", h]);
    assert!(e.contains("is not an integer"), "{e}");
    let e = one_error_line(&["sysctl", "get", "net.inet.ip.forwarding", "--host", h]);
    assert!(e.contains("net.ipv4.ip_forward"), "{e}");
    assert_eq!(std::fs::read_to_string(&host).unwrap(), before);
}

#[test]
fn trace_colour_follows_the_terminal_no_color_and_clicolor_force() {
    let args = [
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        OFF,
        "--trace",
    ];
    let run = |env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fwdsim"));
        c.args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            c.env(k, v);
        }
        String::from_utf8(c.output().unwrap().stdout).unwrap()
    };
    let plain = run(&[]);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.contains(
        "    ip_route_input_slow: IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) -> no_route\n"
    ));
    let forced = run(&[("CLICOLOR_FORCE", "1")]);
    // The branch that kills the packet in bold red, the result line too,
    // and the arrows of steps up to 100 columns wide in one column.
    assert!(forced.contains("\x1b[1;31m-> no_route\x1b[0m"), "{forced}");
    assert!(
        forced.contains("\x1b[1;31mresult: -EHOSTUNREACH"),
        "{forced}"
    );
    let strip = |s: &str| {
        let mut out = String::new();
        let mut esc = false;
        for ch in s.chars() {
            match (esc, ch) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    let columns: Vec<usize> = strip(&forced)
        .lines()
        .filter_map(|l| l.find(" -> "))
        .filter(|&c| c <= 100) // longer steps keep their arrow at their end
        .collect();
    assert!(columns.len() >= 3, "{forced}");
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{columns:?}");
    let off = run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert_eq!(off, plain);
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let o = fwdsim(&["bogus"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unrecognized subcommand 'bogus'"));
    let o = fwdsim(&["route", "get", "--host", OFF]);
    assert_eq!(o.status.code(), Some(1));
    let o = fwdsim(&["route", "get", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Examples:"), "{}", stdout(&o));
}

#[test]
fn explain_names_the_unanswered_arp_request_of_a_strict_rp_filter() {
    let o = fwdsim(&[
        "explain",
        "203.0.113.130",
        "from",
        "198.51.100.7",
        "iif",
        "isp1",
        "--host",
        "fixtures/hosts/rp-filter-asymmetric.toml",
    ]);
    let out = stdout(&o);
    assert_eq!(
        out.lines().nth(2),
        Some(
            "an ARP request from 198.51.100.7 asking for 203.0.113.130 makes the same lookup (arp_process): it is not answered either"
        ),
        "{out}"
    );
}

#[test]
fn explain_without_iif_speaks_of_the_hosts_own_traffic() {
    let o = fwdsim(&["explain", "8.8.8.8", "--host", OFF]);
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "8.8.8.8: 8.8.8.8 via 10.0.2.2 dev eth0 src 10.0.2.15 uid 0 (sent by this host)\n"
        ),
        "{out}"
    );
    assert!(!out.contains("forwarded"), "{out}");
}

#[test]
fn host_dump_says_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("snap");
    let o = fwdsim(&["host", "dump", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let want = format!(
        "wrote {}: addr.json, fdb.json, ipset.txt, iptables.txt, neigh.json, nft.json, route.json, rule.json, sysctl.txt (",
        d.display()
    );
    assert!(out.starts_with(&want), "{out}");
    assert!(out.trim_end().ends_with("nftables tables)"), "{out}");
}
