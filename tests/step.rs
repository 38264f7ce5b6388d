//! `--step` driven through a pseudo-terminal of 80 columns with single
//! keystrokes, as a user at a terminal would: stdout is a terminal there, so
//! the walk is fitted to the width, and coloured unless `NO_COLOR` is set
//! (it is here, to read the screen as text).

use std::process::Command;

use rexpect::session::spawn_command;

/// fwdsim with `args` in a pseudo-terminal that `stty` makes 80 columns
/// wide, so the width comes from the terminal itself.
fn session(args: &[&str]) -> rexpect::session::PtySession {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("stty cols 80 rows 24 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_fwdsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("COLUMNS");
    spawn_command(c, Some(10_000)).expect("spawn fwdsim in a pty")
}

const PROMPT: &str = "[Enter/n next, b back, c continue, s show the packet, q quit]";

const NO_ROUTE: &[&str] = &[
    "route",
    "get",
    "8.8.8.8",
    "from",
    "172.17.0.2",
    "iif",
    "docker0",
    "--host",
    "fixtures/hosts/docker-forwarding-off.toml",
];

#[test]
fn step_through_the_no_route_decision_with_single_keys() {
    let mut p = session(&[NO_ROUTE, &["--step"]].concat());
    // The header line comes with the first step: no stop at it.
    p.exp_string("inet_rtm_getroute (net/ipv4/route.c)")
        .unwrap();
    p.exp_string("ip_route_input_rcu: ipv4_is_multicast(daddr")
        .unwrap();
    p.exp_string("8.8.8.8) = 0").unwrap();
    p.exp_string(&format!("step 1/12 {PROMPT}")).unwrap();
    // A key acts without Enter.
    p.send("n").unwrap();
    p.flush().unwrap();
    p.exp_string("ip_route_input_slow (net/ipv4/route.c)")
        .unwrap();
    p.exp_string("ipv4_is_multicast(saddr 172.17.0.2) ||")
        .unwrap();
    p.exp_string("step 2/12").unwrap();
    p.send("s").unwrap();
    p.flush().unwrap();
    p.exp_string(
        "skb (inet_rtm_getroute's packet): dev docker0, saddr 172.17.0.2, daddr 8.8.8.8, tos 0x00, protocol 17, mark 0",
    )
    .unwrap();
    p.exp_string("skb dst: none").unwrap();
    p.exp_string("step 2/12").unwrap();
    p.send("c").unwrap();
    p.flush().unwrap();
    // The long condition wraps; the arrow stays on its last line.
    p.exp_string("ip_route_input_slow: IN_DEV_FORWARD(docker0) = 0")
        .unwrap();
    p.exp_string("(net.ipv4.conf.docker0.forwarding = 0) -> no_route")
        .unwrap();
    p.exp_string("result: -EHOSTUNREACH (No route to host); a packet is dropped with")
        .unwrap();
    p.exp_string("SKB_DROP_REASON_IP_INADDRERRORS").unwrap();
    p.exp_string("RTNETLINK answers: No route to host").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn step_back_shows_the_step_before_and_the_packet_as_it_was_there() {
    let mut p = session(&[
        "trace",
        "fixtures/pcaps/docker.pcapng",
        "--packet",
        "2",
        "--host",
        "fixtures/hosts/docker-forwarding-on.toml",
        "--step",
    ]);
    p.exp_string("step 1/").unwrap();
    // Back at the first step says so.
    p.send("b").unwrap();
    p.flush().unwrap();
    p.exp_string("this is the first step").unwrap();
    // Forward to the step after ip_decrease_ttl.
    loop {
        let (before, _) = p.exp_regex(r"step \d+/\d+ ").unwrap();
        if before.contains("ip_decrease_ttl: 64 -> 63, csum 0x7e86 -> 0x7f86") {
            break;
        }
        p.send("n").unwrap();
        p.flush().unwrap();
    }
    p.send("n").unwrap();
    p.flush().unwrap();
    p.exp_string("ip_output: OutTransmits += 1").unwrap();
    // The left arrow goes back to ip_decrease_ttl's step.
    p.send("\x1b[D").unwrap();
    p.flush().unwrap();
    p.exp_regex(r"back to step \d+/\d+:").unwrap();
    p.exp_string("ip_forward: ip_decrease_ttl: 64 -> 63, csum 0x7e86 -> 0x7f86")
        .unwrap();
    p.send("s").unwrap();
    p.flush().unwrap();
    p.exp_string("ttl 63, protocol 1, check 0x7f86").unwrap();
    p.exp_string("skb dst: rtable RTN_UNICAST dev eth0: dst.input = ip_forward,")
        .unwrap();
    p.exp_string("skb drop_reason: none").unwrap();
    // Forward again: the step seen before is shown again.
    p.send("n").unwrap();
    p.flush().unwrap();
    p.exp_regex(r"step \d+/\d+ again:").unwrap();
    p.exp_string("ip_output: OutTransmits += 1").unwrap();
    p.send("c").unwrap();
    p.flush().unwrap();
    p.exp_string("result: forward, dst.input = ip_forward")
        .unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn step_shows_the_captured_headers_lists_the_keys_and_quits() {
    let mut p = session(&[
        "trace",
        "fixtures/pcaps/docker.pcapng",
        "--packet",
        "2",
        "--host",
        "fixtures/hosts/docker-forwarding-off.toml",
        "--step",
    ]);
    p.exp_string("ip_rcv (net/ipv4/ip_input.c)").unwrap();
    p.exp_string("ip_rcv_core: skb->pkt_type = PACKET_HOST")
        .unwrap();
    p.exp_string("step 1/").unwrap();
    p.send("s").unwrap();
    p.flush().unwrap();
    p.exp_string("ip: 172.17.0.2 > 8.8.8.8, ihl 5, tos 0x00, tot_len 84")
        .unwrap();
    p.exp_string("icmp: type 8, code 0").unwrap();
    p.exp_string("skb (after step 2): dev docker0, pkt_type PACKET_HOST, len 84, protocol 0x0800")
        .unwrap();
    p.exp_string("skb dst: none").unwrap();
    p.send("x").unwrap();
    p.flush().unwrap();
    p.exp_string("keys: Enter/n next, b back, c continue, s show the packet, q quit")
        .unwrap();
    p.send("q").unwrap();
    p.flush().unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains("result:"), "{rest}");
}

/// The visible columns of a screen line (its ANSI codes and carriage
/// return left out).
fn columns(line: &str) -> usize {
    let mut n = 0;
    let mut esc = false;
    for c in line.chars() {
        match (esc, c) {
            (false, '\x1b') => esc = true,
            (true, c) if c.is_ascii_alphabetic() => esc = false,
            (true, _) | (false, '\r') => {}
            _ => n += 1,
        }
    }
    n
}

#[test]
fn the_walk_fits_80_columns_with_its_arrows_aligned() {
    for (args, colour) in [
        (
            vec![
                "trace",
                "fixtures/pcaps/docker.pcapng",
                "--packet",
                "2",
                "--host",
                "fixtures/hosts/docker-forwarding-on.toml",
            ],
            false,
        ),
        ([NO_ROUTE, &["--trace"]].concat(), false),
        ([NO_ROUTE, &["--trace"]].concat(), true),
    ] {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("stty cols 80 rows 24 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_fwdsim"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("COLUMNS");
        if colour {
            c.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
        } else {
            c.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
        }
        let mut p = spawn_command(c, Some(10_000)).expect("spawn");
        let screen = p.exp_eof().unwrap();
        let lines: Vec<&str> = screen.lines().collect();
        assert!(lines.len() > 15, "{screen}");
        for l in &lines {
            assert!(columns(l) <= 80, "{} columns: {l:?}", columns(l));
        }
        // Every arrow after padding starts in one column.
        let plain: Vec<String> = lines
            .iter()
            .map(|l| {
                let mut s = String::new();
                let mut esc = false;
                for ch in l.chars() {
                    match (esc, ch) {
                        (false, '\x1b') => esc = true,
                        (true, c) if c.is_ascii_alphabetic() => esc = false,
                        (true, _) | (false, '\r') => {}
                        _ => s.push(ch),
                    }
                }
                s
            })
            .collect();
        let padded: Vec<usize> = plain
            .iter()
            .filter(|l| !l.starts_with("why:") && l.contains("  -> "))
            .map(|l| l.find("-> ").unwrap())
            .collect();
        assert!(padded.len() >= 3, "{screen}");
        assert!(
            padded.iter().all(|&c| c == padded[0]),
            "{padded:?}\n{screen}"
        );
        // No arrow is left alone on a line of its own.
        assert!(
            plain.iter().all(|l| !l.trim_start().starts_with("->")),
            "{screen}"
        );
    }
}

#[test]
fn a_pipe_gets_one_step_a_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_fwdsim"))
        .args([NO_ROUTE, &["--trace"]].concat())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("COLUMNS", "40")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "    ip_route_input_slow: IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) -> no_route\n"
        ),
        "{text}"
    );
}
