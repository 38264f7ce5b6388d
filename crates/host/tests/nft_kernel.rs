//! The kernel is the judge of the nftables model: a router namespace (r0
//! 10.0.1.1/24 to a client namespace, r1 10.0.2.1/24 to a server one) with
//! a ruleset loaded by `nft -f`; the client sends UDP datagrams through it
//! (raw sockets, so sources can be spoofed); then each rule's counter as
//! `nft -j list ruleset` shows it is compared with the counter the model
//! gives for the same frames, on the router as `dump` + `load_snapshot`
//! read it and the ruleset as `load_nft_json` reads it.
//!
//! Needs root, iproute2, nftables and python3; run with
//! `cargo test -p fwdsim-host --test nft_kernel` (skips with a message
//! otherwise). Namespaces are named `fws-nft-k<pid>-*` and deleted
//! afterwards, also on failure. Traffic stays between these namespaces.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use fwdsim_kernel::core::dev::netif_receive_skb;
use fwdsim_kernel::netfilter::Netfilter;
use fwdsim_kernel::trace::NoTrace;

const RULESET: &str = r#"
table ip fwsdiff {
	chain rpfilter {
		type filter hook prerouting priority -300; policy accept;
		fib saddr . iif oif missing counter drop
	}
	chain forward_filter {
		type filter hook forward priority 0; policy drop;
		ip ttl < 4 counter
		ip length 40 counter
		iifname . oifname { "r0" . "r1" } counter
		udp dport 5003 limit rate 1/minute burst 2 packets counter accept
		udp dport 5003 counter drop
		udp dport vmap { 6000 : jump c6000, 6001 : goto c6001 }
		iifname "r0" oifname "r1" udp dport 5000 counter accept
	}
	chain c6000 {
		counter drop
	}
	chain c6001 {
		ip saddr 10.0.1.0/24 counter return
	}
	chain input_filter {
		type filter hook input priority 0; policy accept;
		fib daddr type local counter
		udp dport 7000 counter reject
	}
}
"#;

/// (source, destination, destination port, TTL, how many).
const SENT: &[(&str, &str, u16, u8, usize)] = &[
    ("10.0.1.2", "10.0.2.2", 5000, 64, 1),
    ("10.0.1.2", "10.0.2.2", 5000, 4, 1),
    ("10.0.1.2", "10.0.2.2", 6000, 64, 1),
    ("10.0.1.2", "10.0.2.2", 6001, 64, 1),
    ("10.0.1.2", "10.0.2.2", 5003, 64, 4),
    ("10.0.2.5", "10.0.2.2", 5000, 64, 1),
    ("10.0.1.2", "10.0.1.1", 7000, 64, 1),
];

fn run(argv: &[&str]) -> Result<String, String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The three namespaces, deleted on drop.
struct Lab {
    names: [String; 3],
}

impl Lab {
    fn new() -> Result<Lab, String> {
        let base = format!("fws-nft-k{}", std::process::id());
        let lab = Lab {
            names: ["r", "c", "s"].map(|t| format!("{base}-{t}")),
        };
        for n in &lab.names {
            let _ = run(&["ip", "netns", "del", n]);
            run(&["ip", "netns", "add", n])?;
        }
        Ok(lab)
    }

    fn r(&self) -> &str {
        &self.names[0]
    }

    fn exec(&self, ns: &str, cmd: &str) -> Result<String, String> {
        let mut v = vec!["ip", "netns", "exec", ns];
        v.extend(cmd.split_whitespace());
        run(&v)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = run(&["ip", "netns", "del", n]);
        }
    }
}

fn build(lab: &Lab) -> Result<(), String> {
    let [r, c, s] = &lab.names;
    run(&[
        "ip", "link", "add", "r0", "netns", r, "type", "veth", "peer", "name", "c0", "netns", c,
    ])?;
    run(&[
        "ip", "link", "add", "r1", "netns", r, "type", "veth", "peer", "name", "s0", "netns", s,
    ])?;
    for (ns, cmds) in [
        (
            r,
            &[
                "ip link set lo up",
                "ip addr add 10.0.1.1/24 dev r0",
                "ip addr add 10.0.2.1/24 dev r1",
                "ip link set r0 up",
                "ip link set r1 up",
                "sysctl -qw net.ipv4.ip_forward=1",
            ][..],
        ),
        (
            c,
            &[
                "ip link set lo up",
                "ip addr add 10.0.1.2/24 dev c0",
                "ip link set c0 up",
                "ip route add default via 10.0.1.1",
            ][..],
        ),
        (
            s,
            &[
                "ip link set lo up",
                "ip addr add 10.0.2.2/24 dev s0",
                "ip link set s0 up",
                "ip route add default via 10.0.2.1",
            ][..],
        ),
    ] {
        for cmd in cmds {
            lab.exec(ns, cmd)?;
        }
    }
    let file = std::env::temp_dir().join(format!("{}.nft", lab.r()));
    std::fs::write(&file, RULESET).map_err(|e| e.to_string())?;
    let r = lab.exec(lab.r(), &format!("nft -f {}", file.display()));
    let _ = std::fs::remove_file(&file);
    r.map(|_| ())
}

/// Sends `SENT` from the client with a raw socket (the kernel fills in the
/// IP checksum; the UDP checksum is left 0).
fn send(lab: &Lab) -> Result<(), String> {
    let mut script = String::from(
        "import socket, struct, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\n",
    );
    for (src, dst, dport, ttl, n) in SENT {
        script += &format!(
            "for _ in range({n}):\n    \
             ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, 0, 0x4000, {ttl}, 17, 0, \
             socket.inet_aton('{src}'), socket.inet_aton('{dst}'))\n    \
             udp = struct.pack('!HHHH', 40000, {dport}, 20, 0) + bytes(12)\n    \
             s.sendto(ip + udp, ('{dst}', 0))\n    \
             time.sleep(0.05)\n"
        );
    }
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.names[1], "python3", "-c", &script])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    Ok(())
}

/// Each rule's packet counter by (chain, handle), from `nft -j`.
fn kernel_counters(text: &str) -> BTreeMap<(String, u64), u64> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let mut out = BTreeMap::new();
    for it in v["nftables"].as_array().unwrap() {
        let Some(r) = it.get("rule") else { continue };
        for e in r["expr"].as_array().unwrap() {
            if let Some(c) = e.get("counter") {
                out.insert(
                    (
                        r["chain"].as_str().unwrap().to_string(),
                        r["handle"].as_u64().unwrap(),
                    ),
                    c["packets"].as_u64().unwrap(),
                );
            }
        }
    }
    out
}

fn frame(dst_mac: [u8; 6], src: &str, dst: &str, dport: u16, ttl: u8) -> Vec<u8> {
    let src: Ipv4Addr = src.parse().unwrap();
    let dst: Ipv4Addr = dst.parse().unwrap();
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], dst_mac)
        .ipv4(src.octets(), dst.octets(), ttl)
        .udp(40000, dport);
    let mut out = Vec::new();
    b.write(&mut out, &[0u8; 12]).unwrap();
    out
}

#[test]
fn rule_counters_match_the_kernel() {
    if run(&["id", "-u"]).map(|s| s.trim() == "0") != Ok(true)
        || run(&["nft", "--version"]).is_err()
        || run(&["python3", "--version"]).is_err()
    {
        eprintln!("skipped: needs root, nft and python3");
        return;
    }
    let lab = Lab::new().unwrap();
    build(&lab).unwrap();
    // The router as the model reads it, before any traffic.
    let dir = tempfile::tempdir().unwrap();
    fwdsim_host::dump(dir.path(), Some(lab.r())).unwrap();
    let mut ns = fwdsim_host::load_snapshot(dir.path()).unwrap();
    let json = lab.exec(lab.r(), "nft -j list ruleset").unwrap();
    let (nft, warnings) =
        fwdsim_host::nft_json::load_nft_json(Path::new("nft.json"), &json, &[]).unwrap();
    assert_eq!(warnings, Vec::<String>::new());
    let mut nf = Netfilter {
        nft,
        ..Default::default()
    };
    nf.register_hooks();
    ns.nf = Some(Box::new(nf));

    send(&lab).unwrap();
    let kernel = kernel_counters(&lab.exec(lab.r(), "nft -j list ruleset").unwrap());

    let r0 = ns.dev_by_name("r0").unwrap();
    let (ifindex, mac) = (r0.ifindex, r0.dev_addr);
    for (src, dst, dport, ttl, n) in SENT {
        for _ in 0..*n {
            let mut f = frame(mac, src, dst, *dport, *ttl);
            netif_receive_skb(&mut ns, &mut f, ifindex, &mut NoTrace);
            ns.jiffies += 12; // 50 ms at HZ = 250, as the sender paces them
        }
    }
    let mut model = BTreeMap::new();
    for c in &ns.nf.as_ref().unwrap().nft[0].chains {
        for r in &c.rules {
            if r.exprs
                .contains(&fwdsim_kernel::netfilter::nf_tables::NftExpr::Counter)
            {
                model.insert((c.name.clone(), r.handle), r.counters.pcnt);
            }
        }
    }
    assert_eq!(
        model, kernel,
        "model (left) and kernel (right) rule counters"
    );
    // What the kernel counted: FORWARD sees the TTL after ip_forward's
    // decrement (4 -> 3), the limit lets its burst of 2 through, the
    // spoofed 10.0.2.5 is stopped by the reverse-path check.
    let k = |c: &str, h: u64| kernel[&(c.to_string(), h)];
    assert_eq!(
        [
            k("rpfilter", 6),
            k("forward_filter", 7),
            k("forward_filter", 8),
            k("forward_filter", 10),
            k("forward_filter", 11),
            k("forward_filter", 12),
            k("forward_filter", 15),
            k("c6000", 16),
            k("c6001", 17),
            k("input_filter", 18),
            k("input_filter", 19),
        ],
        [1, 1, 8, 8, 2, 2, 2, 1, 1, 1, 1]
    );
}
