//! `--step` driven through a pseudo-terminal with keystrokes, as a user at
//! a terminal would: stdout is a terminal there, so the walk is coloured
//! unless `NO_COLOR` is set (it is here, to read the screen as text).

use std::process::Command;

use rexpect::session::spawn_command;

fn session(args: &[&str]) -> rexpect::session::PtySession {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fwdsim"));
    c.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    spawn_command(c, Some(10_000)).expect("spawn fwdsim in a pty")
}

const PROMPT: &str = "[Enter/n next, c continue, s show the packet, q quit]";

#[test]
fn step_through_the_no_route_decision_with_the_keyboard() {
    let mut p = session(&[
        "route",
        "get",
        "8.8.8.8",
        "from",
        "172.17.0.2",
        "iif",
        "docker0",
        "--host",
        "fixtures/hosts/docker-forwarding-off.toml",
        "--step",
    ]);
    p.exp_string("inet_rtm_getroute (net/ipv4/route.c)")
        .unwrap();
    p.exp_string(&format!("step 1/15 {PROMPT}")).unwrap();
    p.send_line("").unwrap();
    p.exp_string("ip_route_input_rcu: ipv4_is_multicast(daddr 8.8.8.8) = 0 -> ip_route_input_slow")
        .unwrap();
    p.exp_string("step 2/15").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("ip_route_input_slow (net/ipv4/route.c)")
        .unwrap();
    p.exp_string("step 3/15").unwrap();
    p.send_line("s").unwrap();
    p.exp_string(
        "skb (inet_rtm_getroute's packet): dev docker0, saddr 172.17.0.2, daddr 8.8.8.8, tos 0x00, protocol 17, mark 0",
    )
    .unwrap();
    p.exp_string("skb dst: none").unwrap();
    p.exp_string("step 3/15").unwrap();
    p.send_line("c").unwrap();
    p.exp_string("IN_DEV_FORWARD(docker0) = 0 (net.ipv4.conf.docker0.forwarding = 0) -> no_route")
        .unwrap();
    p.exp_string("result: -EHOSTUNREACH (No route to host); a packet is dropped with SKB_DROP_REASON_IP_INADDRERRORS")
        .unwrap();
    p.exp_string("RTNETLINK answers: No route to host").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn step_shows_the_captured_headers_and_quits() {
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
    p.exp_string("step 1/").unwrap();
    p.send_line("s").unwrap();
    p.exp_string("ip: 172.17.0.2 > 8.8.8.8, ihl 5, tos 0x00, tot_len 84")
        .unwrap();
    p.exp_string("icmp: type 8, code 0").unwrap();
    p.exp_string("skb (after step 1): dev docker0, pkt_type PACKET_HOST, len 84, protocol 0x0800")
        .unwrap();
    p.exp_string("skb dst: none").unwrap();
    p.send_line("x").unwrap();
    p.exp_string("keys: Enter/n next, c continue, s show the packet, q quit")
        .unwrap();
    p.send_line("q").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains("result:"), "{rest}");
}

#[test]
fn step_shows_the_packet_as_the_walk_has_changed_it() {
    let mut p = session(&[
        "trace",
        "fixtures/pcaps/docker.pcapng",
        "--packet",
        "2",
        "--host",
        "fixtures/hosts/docker-forwarding-on.toml",
        "--step",
    ]);
    // Up to the line of ip_decrease_ttl, then `s`.
    loop {
        let (before, _) = p.exp_regex(r"step \d+/\d+ ").unwrap();
        if before.contains("ip_decrease_ttl: 64 -> 63, csum 0x7e86 -> 0x7f86") {
            break;
        }
        p.send_line("").unwrap();
    }
    p.send_line("s").unwrap();
    p.exp_string("ttl 63, protocol 1, check 0x7f86").unwrap();
    p.exp_string(
        "skb dst: rtable RTN_UNICAST dev eth0: dst.input = ip_forward, dst.output = ip_output",
    )
    .unwrap();
    p.exp_string("skb drop_reason: none").unwrap();
    p.send_line("c").unwrap();
    p.exp_string("result: forward, dst.input = ip_forward")
        .unwrap();
    p.exp_eof().unwrap();
}
