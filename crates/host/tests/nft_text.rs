//! `[firewall] nft = '''...'''` of a TOML host: a ruleset in nft's own
//! syntax, loaded through the nft JSON loader, decides what a frame run
//! through `netif_receive_skb` becomes; its errors name the TOML line.

use std::net::Ipv4Addr;

use fwdsim_host::load_toml_str_with_notes;
use fwdsim_kernel::Netns;
use fwdsim_kernel::SkbDropReason;
use fwdsim_kernel::core::dev::{Verdict, netif_receive_skb};
use fwdsim_kernel::trace::NoTrace;

const HOST: &str = r#"
routes = ["default via 10.0.2.2 dev eth0"]

[sysctl]
"net.ipv4.ip_forward" = 1

[[interface]]
name = "eth0"
mac = "52:54:00:12:34:56"
addresses = ["10.0.2.15/24"]

[[interface]]
name = "veth1"
mac = "02:42:ac:11:00:01"
addresses = ["172.17.0.1/16"]

[[neigh]]
dev = "eth0"
address = "10.0.2.2"
lladdr = "52:55:0a:00:02:02"
state = "reachable"

[[neigh]]
dev = "veth1"
address = "172.17.0.2"
lladdr = "02:42:ac:11:00:02"
state = "reachable"

[firewall]
nft = '''
define LAN = 172.17.0.0/16
table inet fw {
	set open { type inet_service; elements = { 53, 5000 } }
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "veth*" ip saddr $LAN udp dport @open counter accept comment "out"
		counter drop comment "rest"
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" ip saddr $LAN masquerade
	}
}
'''
"#;

fn udp(dst_mac: [u8; 6], src: Ipv4Addr, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], dst_mac)
        .ipv4(src.octets(), dst.octets(), 64)
        .udp(40000, dport);
    let mut out = Vec::new();
    b.write(&mut out, &[0u8; 12]).unwrap();
    out
}

fn send(
    ns: &mut Netns,
    dev: &str,
    src: &str,
    dst: &str,
    dport: u16,
) -> fwdsim_kernel::core::dev::RxOutcome {
    let d = ns.dev_by_name(dev).unwrap();
    let (ifindex, mac) = (d.ifindex, d.dev_addr);
    let mut f = udp(mac, src.parse().unwrap(), dst.parse().unwrap(), dport);
    netif_receive_skb(ns, &mut f, ifindex, &mut NoTrace)
}

fn counter(ns: &Netns, comment: &str) -> u64 {
    let t = &ns.nf.as_ref().unwrap().nft[0];
    let c = &t.chains[t.chain_index("forward").unwrap()];
    c.rules
        .iter()
        .find(|r| r.comment.as_deref() == Some(comment))
        .unwrap()
        .counters
        .pcnt
}

#[test]
fn a_ruleset_in_nft_syntax_decides_the_forwarded_frames() {
    let (mut ns, notes) = load_toml_str_with_notes(HOST, "lab.toml").unwrap();
    assert_eq!(notes, Vec::<String>::new());
    let o = send(&mut ns, "veth1", "172.17.0.2", "8.8.8.8", 5000);
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Forward, None));
    assert_eq!((counter(&ns, "out"), counter(&ns, "rest")), (1, 0));
    let o = send(&mut ns, "veth1", "172.17.0.2", "8.8.8.8", 6000);
    assert_eq!(
        (o.verdict, o.drop_reason),
        (Verdict::Drop, Some(SkbDropReason::NETFILTER_DROP))
    );
    assert_eq!((counter(&ns, "out"), counter(&ns, "rest")), (1, 1));
}

#[test]
fn errors_and_notes_name_the_toml_file_and_line() {
    // The block's first line is line 3 of the file (TOML drops the newline
    // after the opening quotes).
    let bad = "[firewall]\nnft = '''\ntable ip t {\n\tchain c {\n\t\tip saddr 10.0.0.256 drop\n\t}\n}\n'''\n";
    let e = load_toml_str_with_notes(bad, "lab.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "lab.toml:5:12: bad IPv4 address \"10.0.0.256\""
    );

    let inc = "[firewall]\nnft = '''\ninclude \"rules.nft\"\n'''\n";
    let e = load_toml_str_with_notes(inc, "lab.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "lab.toml:3:1: include: not supported in a host file"
    );

    let both = "[firewall]\niptables = '''\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n'''\nnft = '''\ntable ip filter { chain INPUT { accept } }\n'''\n";
    let e = load_toml_str_with_notes(both, "lab.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "lab.toml:8:10: table ip filter is also in `iptables` (iptables-nft keeps its rules there: write them in one place)"
    );

    // What parses but is not modelled loads marked, with a note.
    let skuid = "[firewall]\nnft = '''\ntable inet t {\n\tchain o {\n\t\ttype filter hook output priority filter;\n\t\tmeta skuid 0 drop\n\t}\n}\n'''\n";
    let (_, notes) = load_toml_str_with_notes(skuid, "lab.toml").unwrap();
    assert_eq!(
        notes,
        [
            "lab.toml:6: table inet t chain o rule handle 2: not modelled: {\"match\":{\"op\":\"==\",\"left\":{\"meta\":{\"key\":\"skuid\"}},\"right\":0}} (meta skuid not modelled; the packets reaching this rule are marked)"
        ]
    );
}

#[test]
fn the_documented_nft_example_loads_and_forwards() {
    let doc = std::fs::read_to_string(format!(
        "{}/../../docs/host-format.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let at = doc.find("### A ruleset in nft syntax").unwrap();
    let block = &doc[at..];
    let start = block.find("```toml\n").unwrap() + 8;
    let end = start + block[start..].find("```\n").unwrap();
    // The documented [firewall] on the host above, in place of its own.
    let host = format!(
        "{}{}",
        &HOST[..HOST.find("[firewall]").unwrap()],
        &block[start..end]
    );
    let (mut ns, notes) = load_toml_str_with_notes(&host, "doc.toml").unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let o = send(&mut ns, "veth1", "172.17.0.2", "8.8.8.8", 53);
    assert_eq!((o.verdict, o.drop_reason), (Verdict::Forward, None));
    let o = send(&mut ns, "eth0", "8.8.8.8", "172.17.0.2", 53);
    assert_eq!(
        (o.verdict, o.drop_reason),
        (Verdict::Drop, Some(SkbDropReason::NETFILTER_DROP))
    );
}
