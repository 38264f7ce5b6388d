//! A random iptables ruleset for a router of the netfilter suite, in
//! `iptables-restore` syntax, from a grammar of what real rulesets hold:
//!
//! - **filter**: `INPUT`/`FORWARD`/`OUTPUT` policies `ACCEPT` or `DROP`;
//!   user chains reached from `FORWARD` with `-j` and `-g` (a chain only
//!   reaches chains after it, so there are no loops) ending in `RETURN` or
//!   not; the usual `--ctstate RELATED,ESTABLISHED -j ACCEPT` first, often;
//!   targets `ACCEPT`, `DROP`, `REJECT` (every `--reject-with` the IPv4
//!   target has, `tcp-reset` on TCP rules), `LOG`, none (a counter);
//! - matches: `-s`/`-d` with `!`, `-i`/`-o` with the `+` wildcard where
//!   the hook has the device, `-p tcp|udp|icmp` with `--dport`/`--sport`
//!   (single and ranges), `multiport`, `--syn`, `--tcp-flags`,
//!   `--icmp-type`, `conntrack --ctstate` and `state --state` (NEW,
//!   ESTABLISHED, RELATED, INVALID, UNTRACKED), `addrtype`, `iprange`,
//!   `length`, `ttl`, `mark`, `comment`;
//! - **nat**: `DNAT` on the client side (`-i r0`) of a virtual address
//!   ([`VIP`]) or the router's own r0 address to the server with a port
//!   change, `REDIRECT` to a local port, `MASQUERADE` or `SNAT --to-source`
//!   (address, port range) on the server side (`-o r1`);
//! - **mangle**: `MARK --set-mark`/`--set-xmark` (matched by `-m mark`);
//! - **raw**: `CT --notrack` and `NOTRACK` for some UDP ports.
//!
//! The addresses, ports and TTLs the rules name are those the flows of
//! [`super::flows`] use, so that most rules are hit by something.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// A destination the client uses that the router has no route for: only
/// DNAT makes it reachable.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 9, 1);
/// TCP ports the flows use.
pub const TCP_PORTS: &[u16] = &[22, 80, 443, 2222, 5001, 5002, 8080];
/// UDP ports the flows use.
pub const UDP_PORTS: &[u16] = &[53, 123, 514, 5001, 5353, 9999];
/// TTLs of the client's frames.
pub const TTLS: &[u8] = &[64, 64, 63, 30, 128];

/// Which devices the hook knows: (input device, output device).
#[derive(Clone, Copy, Debug)]
struct Hook {
    iif: bool,
    oif: bool,
}

const PRE: Hook = Hook {
    iif: true,
    oif: false,
};
const FWD: Hook = Hook {
    iif: true,
    oif: true,
};
const POST: Hook = Hook {
    iif: false,
    oif: true,
};

fn neg(rng: &mut StdRng, p: f64) -> &'static str {
    if rng.gen_bool(p) { "! " } else { "" }
}

fn src_net(rng: &mut StdRng) -> String {
    let c = [
        "10.0.1.2",
        "10.0.1.0/24",
        "10.200.0.0/16",
        "10.200.1.0/24",
        "10.200.2.0/23",
        "10.0.2.2",
        "10.0.2.0/24",
        "10.0.0.0/8",
    ];
    c.choose(rng).expect("non-empty").to_string()
}

fn dst_net(rng: &mut StdRng) -> String {
    let c = [
        "10.0.2.2",
        "10.0.2.0/24",
        "10.0.9.1",
        "10.0.1.1",
        "10.0.2.1",
        "10.0.12.0/24",
        "10.0.1.2",
        "10.200.0.0/16",
    ];
    c.choose(rng).expect("non-empty").to_string()
}

fn ports(rng: &mut StdRng, list: &[u16]) -> String {
    match rng.gen_range(0..4) {
        0 => "1:1023".into(),
        1 => "5000:5010".into(),
        2 => format!("{}:{}", list[0], list[list.len() / 2]),
        _ => list.choose(rng).expect("non-empty").to_string(),
    }
}

fn multiport(rng: &mut StdRng, list: &[u16]) -> String {
    let n = rng.gen_range(2..4);
    let mut v: Vec<u16> = list.choose_multiple(rng, n).copied().collect();
    v.sort_unstable();
    let mut s: Vec<String> = v.iter().map(u16::to_string).collect();
    if rng.gen_bool(0.3) {
        s.push("5000:5005".into());
    }
    s.join(",")
}

fn states(rng: &mut StdRng) -> String {
    let all = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"];
    let n = rng.gen_range(1..3);
    let mut v: Vec<&str> = all.choose_multiple(rng, n).copied().collect();
    v.sort_unstable();
    v.join(",")
}

/// The protocol part of a rule, and the protocol.
fn proto(rng: &mut StdRng) -> (String, &'static str) {
    match rng.gen_range(0..10) {
        0..=3 => {
            let mut s = "-p tcp".to_string();
            match rng.gen_range(0..7) {
                0 | 1 => {
                    let _ = write!(s, " --dport {}", ports(rng, TCP_PORTS));
                }
                2 => {
                    let _ = write!(s, " --sport {}", ports(rng, &[40000, 50000, 65535]));
                }
                3 => {
                    let _ = write!(s, " -m multiport --dports {}", multiport(rng, TCP_PORTS));
                }
                4 => {
                    let _ = write!(
                        s,
                        " {}--syn --dport {}",
                        neg(rng, 0.3),
                        TCP_PORTS.choose(rng).expect("non-empty")
                    );
                }
                5 => {
                    let f = [
                        "SYN,ACK SYN",
                        "SYN,RST,ACK,FIN ACK",
                        "RST RST",
                        "FIN,SYN FIN,SYN",
                        "ALL NONE",
                        "ACK,FIN FIN",
                    ];
                    let _ = write!(s, " --tcp-flags {}", f.choose(rng).expect("non-empty"));
                }
                _ => {}
            }
            (s, "tcp")
        }
        4..=6 => {
            let mut s = "-p udp".to_string();
            match rng.gen_range(0..4) {
                0 | 1 => {
                    let _ = write!(s, " --dport {}", ports(rng, UDP_PORTS));
                }
                2 => {
                    let _ = write!(s, " -m multiport --ports {}", multiport(rng, UDP_PORTS));
                }
                _ => {}
            }
            (s, "udp")
        }
        _ => {
            let mut s = "-p icmp".to_string();
            if rng.gen_bool(0.7) {
                let t = [
                    "echo-request",
                    "echo-reply",
                    "destination-unreachable",
                    "port-unreachable",
                    "host-unreachable",
                    "8",
                    "3/3",
                ];
                let _ = write!(
                    s,
                    " {}--icmp-type {}",
                    neg(rng, 0.15),
                    t.choose(rng).expect("non-empty")
                );
            }
            (s, "icmp")
        }
    }
}

/// The matches of one rule and its protocol, if it names one.
fn matches(rng: &mut StdRng, hook: Hook) -> (Vec<String>, Option<&'static str>) {
    let mut m = Vec::new();
    let mut p = None;
    if rng.gen_bool(0.35) {
        m.push(format!("{}-s {}", neg(rng, 0.2), src_net(rng)));
    }
    if rng.gen_bool(0.3) {
        m.push(format!("{}-d {}", neg(rng, 0.2), dst_net(rng)));
    }
    if hook.iif && rng.gen_bool(0.3) {
        let d = ["r0", "r1", "r+", "r0"].choose(rng).expect("non-empty");
        m.push(format!("{}-i {d}", neg(rng, 0.15)));
    }
    if hook.oif && rng.gen_bool(0.25) {
        let d = ["r1", "r0", "r+"].choose(rng).expect("non-empty");
        m.push(format!("{}-o {d}", neg(rng, 0.15)));
    }
    if rng.gen_bool(0.55) {
        let (s, name) = proto(rng);
        m.push(s);
        p = Some(name);
    }
    for _ in 0..rng.gen_range(0..3) {
        let x = match rng.gen_range(0..9) {
            0 | 1 => format!("-m conntrack {}--ctstate {}", neg(rng, 0.1), states(rng)),
            2 => format!("-m state --state {}", states(rng)),
            3 => {
                let t = ["LOCAL", "UNICAST", "BROADCAST"]
                    .choose(rng)
                    .expect("non-empty");
                let which = if rng.gen_bool(0.6) { "dst" } else { "src" };
                format!("-m addrtype {}--{which}-type {t}", neg(rng, 0.2))
            }
            4 => {
                if rng.gen_bool(0.5) {
                    let hi = rng.gen_range(2..200);
                    format!(
                        "-m iprange {}--src-range 10.200.0.1-10.200.1.{hi}",
                        neg(rng, 0.2)
                    )
                } else {
                    format!(
                        "-m iprange --dst-range 10.0.2.{}-10.0.2.9",
                        rng.gen_range(1..4)
                    )
                }
            }
            5 => {
                let (a, b) = [(0, 60), (0, 100), (60, 1500), (100, 65535), (41, 41)]
                    .choose(rng)
                    .copied()
                    .expect("non-empty");
                format!("-m length {}--length {a}:{b}", neg(rng, 0.15))
            }
            6 => {
                let op = ["--ttl-gt", "--ttl-lt", "--ttl-eq"]
                    .choose(rng)
                    .expect("non-empty");
                let v = [29, 30, 62, 63, 64, 100].choose(rng).expect("non-empty");
                format!("-m ttl {op} {v}")
            }
            7 => {
                let mk = [
                    ("0x1", ""),
                    ("0x2", ""),
                    ("0x1", "/0x1"),
                    ("0x10", "/0xf0"),
                    ("0x0", ""),
                ]
                .choose(rng)
                .copied()
                .expect("non-empty");
                format!("-m mark {}--mark {}{}", neg(rng, 0.2), mk.0, mk.1)
            }
            _ => {
                let c = ["allow web", "lab", "drop-noise", "port forward"]
                    .choose(rng)
                    .expect("non-empty");
                format!("-m comment --comment \"{c}\"")
            }
        };
        m.push(x);
    }
    (m, p)
}

fn reject(rng: &mut StdRng, proto: Option<&str>) -> String {
    if proto == Some("tcp") && rng.gen_bool(0.4) {
        return "-j REJECT --reject-with tcp-reset".into();
    }
    let w = [
        "icmp-port-unreachable",
        "icmp-net-unreachable",
        "icmp-host-unreachable",
        "icmp-proto-unreachable",
        "icmp-net-prohibited",
        "icmp-host-prohibited",
        "icmp-admin-prohibited",
    ];
    if rng.gen_bool(0.3) {
        return "-j REJECT".into();
    }
    format!(
        "-j REJECT --reject-with {}",
        w.choose(rng).expect("non-empty")
    )
}

/// A filter rule's target: `chains` are the user chains it may reach.
fn filter_target(rng: &mut StdRng, proto: Option<&str>, chains: &[String], user: bool) -> String {
    let n = if chains.is_empty() { 9 } else { 11 };
    match rng.gen_range(0..n) {
        0..=2 => "-j ACCEPT".into(),
        3 | 4 => "-j DROP".into(),
        5 => reject(rng, proto),
        6 => format!("-j LOG --log-prefix \"fws {}: \"", rng.gen_range(0..100)),
        7 => {
            if user {
                "-j RETURN".into()
            } else {
                String::new()
            }
        }
        8 => String::new(),
        9 => format!("-j {}", chains.choose(rng).expect("non-empty")),
        _ => format!("-g {}", chains.choose(rng).expect("non-empty")),
    }
}

fn rule(chain: &str, m: &[String], target: &str) -> String {
    let mut s = format!("-A {chain}");
    for x in m {
        s.push(' ');
        s.push_str(x);
    }
    if !target.is_empty() {
        s.push(' ');
        s.push_str(target);
    }
    s
}

/// A random ruleset (see the module documentation), as the text
/// `iptables-restore` reads.
pub fn random(rng: &mut StdRng) -> String {
    let mut out = String::new();
    // raw
    if rng.gen_bool(0.25) {
        out.push_str("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
        for _ in 0..rng.gen_range(1..3) {
            let port = UDP_PORTS.choose(rng).expect("non-empty");
            let t = if rng.gen_bool(0.6) {
                "-j CT --notrack"
            } else {
                "-j NOTRACK"
            };
            let _ = writeln!(out, "-A PREROUTING -p udp --dport {port} {t}");
        }
        if rng.gen_bool(0.3) {
            let _ = writeln!(
                out,
                "-A PREROUTING -p icmp -s 10.200.0.0/16 -j CT --notrack"
            );
        }
        out.push_str("COMMIT\n");
    }
    // mangle
    if rng.gen_bool(0.4) {
        out.push_str("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
        for _ in 0..rng.gen_range(1..4) {
            let (m, _) = matches(rng, PRE);
            let chain = if rng.gen_bool(0.7) {
                "PREROUTING"
            } else {
                "FORWARD"
            };
            let t = match rng.gen_range(0..4) {
                0 => "-j MARK --set-mark 0x1".to_string(),
                1 => "-j MARK --set-mark 0x2".to_string(),
                2 => "-j MARK --set-xmark 0x10/0xf0".to_string(),
                _ => "-j MARK --or-mark 0x1".to_string(),
            };
            let _ = writeln!(out, "{}", rule(chain, &m, &t));
        }
        out.push_str("COMMIT\n");
    }
    // nat
    if rng.gen_bool(0.7) {
        out.push_str("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
        for _ in 0..rng.gen_range(0..4) {
            let r = match rng.gen_range(0..7) {
                0 => "-A PREROUTING -i r0 -d 10.0.9.1/32 -p tcp --dport 8080 -j DNAT --to-destination 10.0.2.2:80".to_string(),
                1 => "-A PREROUTING -i r0 -d 10.0.1.1/32 -p tcp --dport 2222 -j DNAT --to-destination 10.0.2.2:22".to_string(),
                2 => "-A PREROUTING -i r0 -p udp --dport 5353 -j DNAT --to-destination 10.0.2.2:53".to_string(),
                3 => "-A PREROUTING -i r0 -d 10.0.9.1/32 -j DNAT --to-destination 10.0.2.2".to_string(),
                4 => "-A PREROUTING -i r0 -p tcp --dport 5002 -j REDIRECT --to-ports 7000".to_string(),
                5 => "-A PREROUTING -i r0 -d 10.0.9.1/32 -p udp -j DNAT --to-destination 10.0.2.2:5000-5001".to_string(),
                _ => {
                    let (m, _) = matches(rng, PRE);
                    rule("PREROUTING", &m, "-j ACCEPT")
                }
            };
            let _ = writeln!(out, "{r}");
        }
        for _ in 0..rng.gen_range(0..3) {
            let r = match rng.gen_range(0..6) {
                0 | 1 => "-A POSTROUTING -o r1 -j MASQUERADE".to_string(),
                2 => {
                    "-A POSTROUTING -s 10.200.0.0/16 -o r1 -j SNAT --to-source 10.0.2.1".to_string()
                }
                3 => "-A POSTROUTING -o r1 -p udp -j SNAT --to-source 10.0.2.1:20000".to_string(),
                4 => "-A POSTROUTING -o r1 -p tcp -j MASQUERADE --to-ports 30000".to_string(),
                _ => {
                    let (m, _) = matches(rng, POST);
                    rule("POSTROUTING", &m, "-j RETURN")
                }
            };
            let _ = writeln!(out, "{r}");
        }
        out.push_str("COMMIT\n");
    }
    // filter
    let pol = |rng: &mut StdRng, p_drop: f64| {
        if rng.gen_bool(p_drop) {
            "DROP"
        } else {
            "ACCEPT"
        }
    };
    let (pi, pf, po) = (pol(rng, 0.2), pol(rng, 0.4), pol(rng, 0.1));
    let nuser = rng.gen_range(0..4);
    let users: Vec<String> = (0..nuser).map(|i| format!("fws-u{i}")).collect();
    let _ = writeln!(
        out,
        "*filter\n:INPUT {pi} [0:0]\n:FORWARD {pf} [0:0]\n:OUTPUT {po} [0:0]"
    );
    for u in &users {
        let _ = writeln!(out, ":{u} - [0:0]");
    }
    if rng.gen_bool(0.6) {
        out.push_str("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
    }
    if rng.gen_bool(0.3) {
        out.push_str("-A FORWARD -m conntrack --ctstate INVALID -j DROP\n");
    }
    for _ in 0..rng.gen_range(2..9) {
        let (m, p) = matches(rng, FWD);
        let t = filter_target(rng, p, &users, false);
        let _ = writeln!(out, "{}", rule("FORWARD", &m, &t));
    }
    for (i, u) in users.iter().enumerate() {
        let later = &users[i + 1..];
        for _ in 0..rng.gen_range(1..5) {
            let (m, p) = matches(rng, FWD);
            let t = filter_target(rng, p, later, true);
            let _ = writeln!(out, "{}", rule(u, &m, &t));
        }
        if rng.gen_bool(0.4) {
            let _ = writeln!(out, "-A {u} -j RETURN");
        }
    }
    if rng.gen_bool(0.5) && pi == "DROP" {
        out.push_str("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
    }
    for _ in 0..rng.gen_range(0..4) {
        let (m, p) = matches(rng, PRE);
        let t = filter_target(rng, p, &[], false);
        let _ = writeln!(out, "{}", rule("INPUT", &m, &t));
    }
    for _ in 0..rng.gen_range(0..3) {
        let (m, p) = matches(rng, POST);
        let t = filter_target(rng, p, &[], false);
        let _ = writeln!(out, "{}", rule("OUTPUT", &m, &t));
    }
    out.push_str("COMMIT\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn seeded_and_varied() {
        let a = random(&mut StdRng::seed_from_u64(5));
        assert_eq!(a, random(&mut StdRng::seed_from_u64(5)));
        let all: String = (0..200)
            .map(|s| random(&mut StdRng::seed_from_u64(s)))
            .collect();
        for w in [
            "*raw",
            "*mangle",
            "*nat",
            "MASQUERADE",
            "DNAT",
            "SNAT",
            "-g fws-u",
            "-j fws-u",
            "RETURN",
            "tcp-reset",
            "--ctstate",
            "--state",
            "addrtype",
            "iprange",
            "length",
            "--ttl",
            "--mark",
            "comment",
            "LOG",
            "multiport",
            "--syn",
            "--tcp-flags",
            "--icmp-type",
            "! -s",
            "r+",
            ":FORWARD DROP",
            "NOTRACK",
            "REDIRECT",
        ] {
            assert!(all.contains(w), "{w}");
        }
    }
}
