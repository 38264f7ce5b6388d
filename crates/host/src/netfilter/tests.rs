//! Tests of the netfilter loaders, on real `iptables-save` and `ipset save`
//! output (fixtures/netfilter, made by iptables-restore in a scratch
//! namespace) and on broken input.

use std::net::Ipv4Addr;
use std::path::Path;

use fwdsim_kernel::Netns;
use fwdsim_kernel::netfilter::ipset::IpSetKind;
use fwdsim_kernel::netfilter::xtables::ip_tables::*;
use proptest::prelude::*;

use super::*;
use crate::error::HostError;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/netfilter/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIX}{name}")).unwrap()
}

fn load(text: &str) -> Result<NfLoad, HostError> {
    let mut nf = NfLoad::default();
    nf.load_iptables(text, Path::new("t.txt"), "t.txt", XtBackend::Nft, 1)?;
    Ok(nf)
}

fn err(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

/// One rule in INPUT of a filter table with a user chain X.
fn rule_nf(r: &str) -> NfLoad {
    let text = format!("*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A INPUT {r}\nCOMMIT\n");
    load(&text).unwrap_or_else(|e| panic!("{r}: {e}"))
}

fn rule(r: &str) -> IptEntry {
    rule_nf(r).tables[0].chains[0].rules[0].clone()
}

fn rule_err(r: &str) -> String {
    err(&format!(
        "*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A INPUT {r}\nCOMMIT\n"
    ))
}

fn pr(min: u16, max: u16) -> PortRange {
    PortRange { min, max }
}

fn net(s: &str) -> ipnet::Ipv4Net {
    s.parse().unwrap()
}

fn ifm(name: &str, wildcard: bool, invert: bool) -> IfaceMatch {
    IfaceMatch {
        name: name.into(),
        wildcard,
        invert,
    }
}

#[test]
fn docker_28_ruleset() {
    let nf = load(&fixture("docker-28.iptables.txt")).unwrap();
    assert!(nf.warnings.is_empty(), "{:?}", nf.warnings);
    let names: Vec<_> = nf.tables.iter().map(|t| t.name).collect();
    // iptables-nft lists the tables in the order they were made.
    assert_eq!(names, [TableName::Raw, TableName::Filter, TableName::Nat]);
    assert!(nf.tables.iter().all(|t| t.backend == XtBackend::Nft));
    assert!(nf.tables.iter().all(|t| &*t.file == "t.txt"));

    let raw = &nf.tables[0];
    let r = &raw.chains[0].rules[0];
    assert_eq!(r.ip.dst, Some((net("192.0.2.2/32"), false)));
    assert_eq!(r.ip.iniface, Some(ifm("bridge1", false, true)));
    assert_eq!(r.target, XtTarget::Drop);
    assert_eq!(
        &*r.origin.text,
        "-A PREROUTING -d 192.0.2.2/32 ! -i bridge1 -j DROP"
    );

    let nat = &nf.tables[2];
    let docker = nat.chain_index("DOCKER").unwrap();
    assert_eq!(nat.chains[docker].policy, None);
    let pre = &nat.chains[nat.chain_index("PREROUTING").unwrap()].rules[0];
    assert_eq!(
        pre.matches,
        [XtMatch::Addrtype {
            src: None,
            dst: Some((addrtype::LOCAL, false)),
            limit_iface_in: false,
            limit_iface_out: false,
        }]
    );
    assert_eq!(pre.target, XtTarget::Jump(docker));
    let post = &nat.chains[nat.chain_index("POSTROUTING").unwrap()].rules;
    assert_eq!(post[0].ip.src, Some((net("192.0.2.0/24"), false)));
    assert_eq!(post[0].ip.outiface, Some(ifm("bridge1", false, true)));
    assert_eq!(post[0].target, XtTarget::Masquerade(NatRange::default()));
    let dnat = &nat.chains[docker].rules[0];
    assert_eq!(
        dnat.target,
        XtTarget::Dnat(NatRange {
            addr: Some((Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(192, 0, 2, 2))),
            ports: Some((80, 80)),
            ..NatRange::default()
        })
    );

    let f = &nf.tables[1];
    let chains: Vec<_> = f.chains.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        chains,
        [
            "INPUT",
            "FORWARD",
            "OUTPUT",
            "DOCKER",
            "DOCKER-BRIDGE",
            "DOCKER-CT",
            "DOCKER-FORWARD",
            "DOCKER-ISOLATION-STAGE-1",
            "DOCKER-ISOLATION-STAGE-2",
            "DOCKER-USER"
        ]
    );
    assert_eq!(f.chains[1].policy, Some(Policy::Drop));
    assert_eq!(f.chains[1].line, 11);
    let idx = |n: &str| f.chain_index(n).unwrap();
    let fwd: Vec<_> = f.chains[1].rules.iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        fwd,
        [
            XtTarget::Jump(idx("DOCKER-USER")),
            XtTarget::Jump(idx("DOCKER-FORWARD"))
        ]
    );
    let ct = &f.chains[idx("DOCKER-CT")].rules[0];
    assert_eq!(ct.ip.outiface, Some(ifm("bridge1", false, false)));
    assert_eq!(
        ct.matches,
        [XtMatch::Conntrack(ConntrackMatch {
            state: Some((ctstate::RELATED | ctstate::ESTABLISHED, false)),
            ..Default::default()
        })]
    );
    let acc = &f.chains[idx("DOCKER")].rules[0];
    assert_eq!(acc.ip.proto, Some((6, false)));
    assert_eq!(
        acc.matches,
        [XtMatch::Tcp {
            sport: None,
            dport: Some((pr(80, 80), false)),
            flags: None
        }]
    );
    assert_eq!(acc.origin.line, 22);
    assert!(f.chains[idx("DOCKER-USER")].rules.is_empty());
}

#[test]
fn counters_of_iptables_save_c() {
    let nf = load(&fixture("edge.iptables-c.txt")).unwrap();
    let mangle = &nf.tables[0];
    assert_eq!(mangle.chains[0].saved, XtCounters { pcnt: 6, bcnt: 312 });
    let out = &mangle.chains[mangle.chain_index("OUTPUT").unwrap()];
    assert_eq!(out.rules[0].saved, XtCounters { pcnt: 6, bcnt: 312 });
    assert_eq!(
        &*out.rules[0].origin.text,
        "-A OUTPUT -j MARK --set-xmark 0x0/0xffffff0f"
    );
    // The -c form, cut out of the text.
    let r = rule("-c 7 700 -p udp -j ACCEPT");
    assert_eq!(r.saved, XtCounters { pcnt: 7, bcnt: 700 });
    assert_eq!(&*r.origin.text, "-A INPUT -p udp -j ACCEPT");
    let r = rule("-p udp -j ACCEPT -c 1 2");
    assert_eq!(&*r.origin.text, "-A INPUT -p udp -j ACCEPT");
}

#[test]
fn edge_cases_of_real_output() {
    let mut nf = NfLoad::default();
    nf.load_ipset(&fixture("edge.ipset.txt"), Path::new("ipset.txt"), 1)
        .unwrap();
    nf.load_iptables(
        &fixture("edge.iptables-c.txt"),
        Path::new("iptables.txt"),
        "iptables.txt",
        XtBackend::Legacy,
        1,
    )
    .unwrap();
    // The header names the backend.
    assert!(nf.tables.iter().all(|t| t.backend == XtBackend::Nft));
    assert_eq!(
        nf.warnings,
        [
            "ipset.txt:16: set group of type list:set is not modelled: rules matching it are marked",
            "iptables.txt:10: not modelled: -j TCPMSS (the packets reaching this rule are marked): -A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
            "iptables.txt:22: not modelled: -j CT --zone (the packets reaching this rule are marked): -A OUTPUT -p udp -j CT --zone 5",
            "iptables.txt:39: not modelled: -m hashlimit (the packets reaching this rule are marked): -A INPUT -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name x -j ACCEPT",
        ]
    );
    assert_eq!(nf.limits, 1);
    let by_line = |l: u32| {
        nf.tables
            .iter()
            .flat_map(|t| t.chains.iter())
            .flat_map(|c| c.rules.iter())
            .find(|r| r.origin.line == l)
            .unwrap()
            .clone()
    };
    let r = by_line(8);
    assert_eq!(r.ip.iniface, Some(ifm("eth", true, false)));
    assert_eq!(
        r.matches,
        [XtMatch::Mark {
            value: 1,
            mask: 0xff,
            invert: false
        }]
    );
    assert_eq!(
        r.target,
        XtTarget::Mark(XMark {
            value: 2,
            mask: 0xff
        })
    );
    assert_eq!(
        by_line(9).target,
        XtTarget::ConnmarkRestore {
            nfmask: 0xff,
            ctmask: 0xff
        }
    );
    let r = by_line(10);
    assert!(r.unmodelled);
    assert_eq!(
        r.target,
        XtTarget::Unsupported {
            name: "TCPMSS".into()
        }
    );
    assert_eq!(
        r.matches,
        [XtMatch::Tcp {
            sport: None,
            dport: None,
            flags: Some((tcpflag::SYN | tcpflag::RST, tcpflag::SYN, false))
        }]
    );
    assert_eq!(
        by_line(21).target,
        XtTarget::Notrack,
        "CT --notrack is NOTRACK"
    );
    let r = by_line(34);
    assert_eq!(
        r.matches,
        [
            XtMatch::Multiport {
                flags: 1,
                ports: vec![pr(22, 22), pr(80, 80), pr(8000, 8100)],
                invert: false
            },
            XtMatch::Comment("admin \"ssh\" and web".into())
        ]
    );
    assert_eq!(
        by_line(35).matches,
        [
            XtMatch::Icmp {
                icmp_type: 8,
                code: (0, 255),
                invert: false
            },
            XtMatch::Limit {
                spec: LimitMatch {
                    avg: 2000,
                    burst: 10
                },
                slot: 0
            }
        ]
    );
    let r = by_line(37);
    assert_eq!(r.ip.src, Some((net("192.168.1.0/24"), true)));
    assert_eq!(
        r.matches,
        [XtMatch::Tcp {
            sport: None,
            dport: Some((pr(22, 22), true)),
            flags: None
        }]
    );
    assert_eq!(
        by_line(38).matches,
        [XtMatch::Set(SetMatch {
            name: "allow".into(),
            index: Some(0),
            dirs: vec![true],
            invert: false
        })]
    );
    assert_eq!(
        by_line(40).matches,
        [
            XtMatch::Tcp {
                sport: None,
                dport: None,
                flags: Some((0x17, tcpflag::SYN, false))
            },
            XtMatch::State {
                mask: ctstate::NEW,
                invert: false
            },
            XtMatch::Ttl {
                op: TtlOp::Gt,
                value: 10
            },
            XtMatch::Length(LengthMatch {
                min: 40,
                max: 1500,
                invert: false
            })
        ]
    );
    let r = by_line(41);
    assert_eq!(
        r.matches,
        [
            XtMatch::Iprange {
                src: Some((
                    Ipv4Addr::new(10, 1, 1, 1),
                    Ipv4Addr::new(10, 1, 1, 9),
                    false
                )),
                dst: None
            },
            XtMatch::Addrtype {
                src: Some((addrtype::LOCAL | addrtype::BROADCAST, true)),
                dst: None,
                limit_iface_in: false,
                limit_iface_out: false
            }
        ]
    );
    assert_eq!(r.target, XtTarget::Reject(RejectWith::HostProhibited));
    assert_eq!(by_line(42).ip.frag, Some(true));
    assert_eq!(by_line(43).ip.proto, Some((47, false)));
    assert_eq!(by_line(44).target, XtTarget::Reject(RejectWith::TcpReset));
    assert_eq!(by_line(45).target, XtTarget::Goto(3));
    assert_eq!(
        by_line(46).matches,
        [XtMatch::Physdev(PhysdevMatch {
            physindev: Some(ifm("veth0", false, false)),
            is_bridged: Some(true),
            ..Default::default()
        })]
    );
    assert_eq!(
        by_line(47).matches,
        [XtMatch::Conntrack(ConntrackMatch {
            state: Some((ctstate::DNAT, false)),
            proto: Some((6, false)),
            orig_dst: Some((net("203.0.113.5/32"), false)),
            orig_dst_port: Some((pr(443, 443), false)),
            ..Default::default()
        })]
    );
    assert_eq!(
        by_line(48).target,
        XtTarget::Nflog {
            group: 5,
            prefix: "fwd drop".into()
        }
    );
    assert_eq!(
        by_line(49).target,
        XtTarget::Log {
            prefix: "DROP: ".into()
        }
    );
    assert_eq!(
        by_line(59).target,
        XtTarget::Redirect(NatRange {
            ports: Some((8080, 8080)),
            ..Default::default()
        })
    );
    assert_eq!(
        by_line(60).target,
        XtTarget::Dnat(NatRange {
            addr: Some((Ipv4Addr::new(10, 0, 0, 53), Ipv4Addr::new(10, 0, 0, 54))),
            ports: Some((5353, 5353)),
            ..Default::default()
        })
    );
    assert_eq!(
        by_line(61).target,
        XtTarget::Masquerade(NatRange {
            ports: Some((1024, 65535)),
            random_fully: true,
            ..Default::default()
        })
    );
    assert_eq!(
        by_line(62).target,
        XtTarget::Snat(NatRange {
            addr: Some((
                Ipv4Addr::new(198, 51, 100, 1),
                Ipv4Addr::new(198, 51, 100, 1)
            )),
            ..Default::default()
        })
    );
}

#[test]
fn mark_spellings_reduce_to_xmark() {
    let x = |r: &str| match rule(r).target {
        XtTarget::Mark(x) | XtTarget::ConnmarkSet(x) => x,
        t => panic!("{t:?}"),
    };
    let xm = |value, mask| XMark { value, mask };
    assert_eq!(x("-j MARK --set-xmark 0x10/0xf0"), xm(0x10, 0xf0));
    assert_eq!(x("-j MARK --set-xmark 5"), xm(5, u32::MAX));
    // iptables itself stores `--set-mark 0x1/0xff00` as `--set-xmark
    // 0x1/0xff01` (its iptables-save prints that), for MARK and CONNMARK.
    assert_eq!(x("-j MARK --set-mark 0x1/0xff00"), xm(0x1, 0xff01));
    assert_eq!(x("-j CONNMARK --set-mark 0x1/0xff00"), xm(0x1, 0xff01));
    assert_eq!(x("-j MARK --set-mark 7"), xm(7, u32::MAX));
    assert_eq!(x("-j MARK --and-mark 0xf0"), xm(0, 0xffff_ff0f));
    assert_eq!(x("-j MARK --or-mark 3"), xm(3, 3));
    assert_eq!(x("-j MARK --xor-mark 4"), xm(4, 0));
    assert_eq!(x("-j CONNMARK --set-xmark 0x2/0x3"), xm(2, 3));
    assert_eq!(x("-j CONNMARK --set-mark 1"), xm(1, u32::MAX));
    assert_eq!(
        rule("-j CONNMARK --save-mark --mask 0xff").target,
        XtTarget::ConnmarkSave {
            nfmask: 0xff,
            ctmask: 0xff
        }
    );
    assert_eq!(
        rule("-j CONNMARK --restore-mark").target,
        XtTarget::ConnmarkRestore {
            nfmask: u32::MAX,
            ctmask: u32::MAX
        }
    );
}

#[test]
fn colliding_options_go_to_the_latest_module_that_has_them() {
    let r = rule("-m mark --mark 1 -m connmark --mark 2/0xf -j ACCEPT");
    assert_eq!(
        r.matches,
        [
            XtMatch::Mark {
                value: 1,
                mask: u32::MAX,
                invert: false
            },
            XtMatch::Connmark {
                value: 2,
                mask: 0xf,
                invert: false
            }
        ]
    );
    let r = rule("-m connmark ! --mark 2 -m mark --mark 1");
    assert!(matches!(
        r.matches[0],
        XtMatch::Connmark {
            value: 2,
            invert: true,
            ..
        }
    ));
    assert!(matches!(r.matches[1], XtMatch::Mark { value: 1, .. }));
    // --state and --ctstate; --dport of udp then of tcp.
    let r = rule("-m state --state NEW -m conntrack --ctstate SNAT,UNTRACKED");
    assert_eq!(
        r.matches,
        [
            XtMatch::State {
                mask: ctstate::NEW,
                invert: false
            },
            XtMatch::Conntrack(ConntrackMatch {
                state: Some((ctstate::SNAT | ctstate::UNTRACKED, false)),
                ..Default::default()
            })
        ]
    );
    let r = rule("-m udp --dport 53 -m tcp --dport 80 -m udp --sport 1");
    assert_eq!(
        r.matches[1],
        XtMatch::Tcp {
            sport: None,
            dport: Some((pr(80, 80), false)),
            flags: None
        }
    );
    assert_eq!(
        r.matches[2],
        XtMatch::Udp {
            sport: Some((pr(1, 1), false)),
            dport: None
        }
    );
    // -m tcp then -m multiport: --dports is multiport's, --dport tcp's.
    let r = rule("-p tcp -m tcp --sport 1 -m multiport --dports 5:6 --dport 7");
    assert_eq!(
        r.matches,
        [
            XtMatch::Tcp {
                sport: Some((pr(1, 1), false)),
                dport: Some((pr(7, 7), false)),
                flags: None
            },
            XtMatch::Multiport {
                flags: 1,
                ports: vec![pr(5, 6)],
                invert: false
            }
        ]
    );
    // The implicit module of -p.
    let r = rule("-p tcp --dport 22 -j ACCEPT");
    assert_eq!(
        r.matches,
        [XtMatch::Tcp {
            sport: None,
            dport: Some((pr(22, 22), false)),
            flags: None
        }]
    );
    let r = rule("-p icmp --icmp-type echo-request");
    assert_eq!(
        r.matches,
        [XtMatch::Icmp {
            icmp_type: 8,
            code: (0, 255),
            invert: false
        }]
    );
}

#[test]
fn header_options_and_negations() {
    let r = rule("-s 10.1.2.3 -d 10.0.0.0/255.255.0.0 ! -o docker+ -i eth0 ! -p udp ! -f");
    assert_eq!(r.ip.src, Some((net("10.1.2.3/32"), false)));
    assert_eq!(r.ip.dst, Some((net("10.0.0.0/16"), false)));
    assert_eq!(r.ip.outiface, Some(ifm("docker", true, true)));
    assert_eq!(r.ip.iniface, Some(ifm("eth0", false, false)));
    assert_eq!(r.ip.proto, Some((17, true)));
    assert_eq!(r.ip.frag, Some(false));
    assert_eq!(r.target, XtTarget::None);
    // Old style `--option ! value`, host bits dropped, protocol numbers.
    let r = rule("-s ! 10.1.2.3/8 -p 17 -m udp --dport ! 1:");
    assert_eq!(r.ip.src, Some((net("10.0.0.0/8"), true)));
    assert_eq!(r.ip.proto, Some((17, false)));
    assert_eq!(
        r.matches,
        [XtMatch::Udp {
            sport: None,
            dport: Some((pr(1, 65535), true))
        }]
    );
    for (p, n) in [("all", 0), ("sctp", 132), ("udplite", 136), ("ICMP", 1)] {
        assert_eq!(rule(&format!("-p {p}")).ip.proto, Some((n, false)), "{p}");
    }
    let r = rule("-p tcp -m tcp --sport :1023 --tcp-flags ! ALL NONE");
    assert_eq!(
        r.matches,
        [XtMatch::Tcp {
            sport: Some((pr(0, 1023), false)),
            dport: None,
            flags: Some((0x3f, 0, true))
        }]
    );
    let r = rule("-p icmp -m icmp ! --icmp-type 3/4");
    assert_eq!(
        r.matches,
        [XtMatch::Icmp {
            icmp_type: 3,
            code: (4, 4),
            invert: true
        }]
    );
    assert!(matches!(
        rule("-p icmp -m icmp --icmp-type any").matches[0],
        XtMatch::Icmp { icmp_type: 255, .. }
    ));
    assert_eq!(
        rule("-m limit --limit 3/hour").matches,
        [XtMatch::Limit {
            spec: LimitMatch {
                avg: 12_000_000,
                burst: 5
            },
            slot: 0
        }]
    );
    assert!(matches!(
        rule("-m limit --limit 2/min").matches[0],
        XtMatch::Limit {
            spec: LimitMatch { avg: 300_000, .. },
            ..
        }
    ));
    assert!(matches!(
        rule("-m limit --limit 1/d").matches[0],
        XtMatch::Limit {
            spec: LimitMatch {
                avg: 864_000_000,
                ..
            },
            ..
        }
    ));
    assert_eq!(
        rule("-m ttl --ttl-gt 255").matches,
        [XtMatch::Ttl {
            op: TtlOp::Gt,
            value: 255
        }]
    );
    assert_eq!(
        rule("-m ttl ! --ttl-eq 64").matches,
        [XtMatch::Ttl {
            op: TtlOp::Ne,
            value: 64
        }]
    );
    assert_eq!(
        rule("-m length ! --length 1000").matches,
        [XtMatch::Length(LengthMatch {
            min: 1000,
            max: 1000,
            invert: true
        })]
    );
    let r = rule(
        "-m conntrack --ctstatus ASSURED,SEEN_REPLY --ctdir REPLY ! --ctorigsrc 10.0.0.0/8 --ctrepldst 1.2.3.4",
    );
    assert_eq!(
        r.matches,
        [XtMatch::Conntrack(ConntrackMatch {
            status: Some((6, false)),
            dir_reply: Some(true),
            orig_src: Some((net("10.0.0.0/8"), true)),
            repl_dst: Some((net("1.2.3.4/32"), false)),
            ..Default::default()
        })]
    );
    let r = rule("-m addrtype --dst-type LOCAL --limit-iface-in -m set ! --match-set nope src,dst");
    assert_eq!(
        r.matches[0],
        XtMatch::Addrtype {
            src: None,
            dst: Some((addrtype::LOCAL, false)),
            limit_iface_in: true,
            limit_iface_out: false
        }
    );
    assert_eq!(
        r.matches[1],
        XtMatch::Set(SetMatch {
            name: "nope".into(),
            index: None,
            dirs: vec![true, false],
            invert: true
        })
    );
    assert!(r.unmodelled, "a set that was not loaded is reported");
    let r = rule("-m physdev ! --physdev-is-in --physdev-out vnet+ --physdev-is-out");
    assert_eq!(
        r.matches,
        [XtMatch::Physdev(PhysdevMatch {
            physoutdev: Some(ifm("vnet", true, false)),
            is_in: Some(false),
            is_out: Some(true),
            ..Default::default()
        })]
    );
    assert_eq!(
        rule("-m iprange ! --dst-range 10.0.0.1-10.0.0.2").matches,
        [XtMatch::Iprange {
            src: None,
            dst: Some((Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2), true))
        }]
    );
}

#[test]
fn targets() {
    for (w, want) in [
        ("", RejectWith::PortUnreachable),
        (
            "--reject-with icmp-net-unreachable",
            RejectWith::NetUnreachable,
        ),
        ("--reject-with host-unreach", RejectWith::HostUnreachable),
        ("--reject-with proto-unreach", RejectWith::ProtoUnreachable),
        ("--reject-with port-unreach", RejectWith::PortUnreachable),
        ("--reject-with net-prohib", RejectWith::NetProhibited),
        ("--reject-with host-prohib", RejectWith::HostProhibited),
        ("--reject-with admin-prohib", RejectWith::AdminProhibited),
        (
            "--reject-with icmp-admin-prohibited",
            RejectWith::AdminProhibited,
        ),
        ("--reject-with tcp-rst", RejectWith::TcpReset),
    ] {
        assert_eq!(
            rule(&format!("-j REJECT {w}")).target,
            XtTarget::Reject(want),
            "{w}"
        );
    }
    assert_eq!(rule("-j RETURN").target, XtTarget::Return);
    assert_eq!(rule("-j X").target, XtTarget::Jump(1));
    assert_eq!(rule("-g X").target, XtTarget::Goto(1));
    assert_eq!(rule("-j NOTRACK").target, XtTarget::Notrack);
    assert_eq!(
        rule("-j LOG --log-level warning --log-prefix x").target,
        XtTarget::Log { prefix: "x".into() }
    );
    assert_eq!(
        rule("-j SNAT --to-source 1.2.3.4-1.2.3.5:1000-2000 --persistent").target,
        XtTarget::Snat(NatRange {
            addr: Some((Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(1, 2, 3, 5))),
            ports: Some((1000, 2000)),
            persistent: true,
            ..Default::default()
        })
    );
    assert_eq!(
        rule("-p tcp -j DNAT --to-destination :8080").target,
        XtTarget::Dnat(NatRange {
            ports: Some((8080, 8080)),
            ..Default::default()
        })
    );
    assert_eq!(
        rule("-p tcp -j MASQUERADE --to-ports 1000-2000 --random").target,
        XtTarget::Masquerade(NatRange {
            ports: Some((1000, 2000)),
            random: true,
            ..Default::default()
        })
    );
    // A jump may come before the matches.
    let r = rule("-j ACCEPT -p tcp --dport 1");
    assert_eq!(r.target, XtTarget::Accept);
    assert_eq!(r.matches.len(), 1);
}

#[test]
fn what_is_not_modelled_loads_marked_with_a_warning() {
    let nf = rule_nf(
        "-m hashlimit --hashlimit-above 5/sec -p tcp -m tcp --dport 1 -j TPROXY --on-port 5",
    );
    let r = &nf.tables[0].chains[0].rules[0];
    assert!(r.unmodelled);
    assert_eq!(
        r.matches,
        [
            XtMatch::Unsupported {
                name: "hashlimit".into()
            },
            XtMatch::Tcp {
                sport: None,
                dport: Some((pr(1, 1), false)),
                flags: None
            }
        ]
    );
    assert_eq!(
        r.target,
        XtTarget::Unsupported {
            name: "TPROXY".into()
        }
    );
    assert_eq!(
        nf.warnings,
        [
            "t.txt:4: not modelled: -m hashlimit, -j TPROXY (the packets reaching this rule are marked): -A INPUT -m hashlimit --hashlimit-above 5/sec -p tcp -m tcp --dport 1 -j TPROXY --on-port 5"
        ]
    );
    // An option a modelled module lacks makes the module unsupported.
    let nf = rule_nf("-p tcp -m tcp --tcp-option 8 --dport 1");
    assert_eq!(
        nf.tables[0].chains[0].rules[0].matches,
        [XtMatch::Unsupported { name: "tcp".into() }]
    );
    assert_eq!(
        nf.warnings,
        [
            "t.txt:4: not modelled: -m tcp --tcp-option (the packets reaching this rule are marked): -A INPUT -p tcp -m tcp --tcp-option 8 --dport 1"
        ]
    );
    let nf = rule_nf("-j CT --helper ftp");
    assert_eq!(
        nf.warnings,
        [
            "t.txt:4: not modelled: -j CT --helper (the packets reaching this rule are marked): -A INPUT -j CT --helper ftp"
        ]
    );
    let nf = rule_nf("-j LOG --log-frob");
    assert_eq!(
        nf.tables[0].chains[0].rules[0].target,
        XtTarget::Unsupported { name: "LOG".into() }
    );
    assert_eq!(nf.warnings.len(), 1);
}

#[test]
fn comments_backends_and_warning_lines() {
    let text = "# Generated by iptables-save v1.8.9 (legacy) on now\n*filter\n:INPUT ACCEPT [1:2]\nCOMMIT\n# Completed on now\n# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n\n   \n";
    let nf = load(text).unwrap();
    assert_eq!(nf.tables[0].backend, XtBackend::Legacy);
    assert!(nf.legacy_tables_present);
    assert_eq!(
        nf.tables[0].chains[0].saved,
        XtCounters { pcnt: 1, bcnt: 2 }
    );
    // A header without a backend is iptables-legacy's (1.8) or older.
    let nf = load(&fixture("edge.iptables-legacy.txt")).unwrap();
    assert_eq!(nf.tables[0].backend, XtBackend::Legacy);
    let nf = load("# Generated by iptables-nft-save v1.8.7 on now\n*raw\nCOMMIT\n").unwrap();
    assert_eq!(nf.tables[0].backend, XtBackend::Nft);
    // No header: the caller's backend.
    assert_eq!(
        load("*raw\nCOMMIT\n").unwrap().tables[0].backend,
        XtBackend::Nft
    );
    // A built-in chain used without its line exists with ACCEPT.
    let nf = load("*nat\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n").unwrap();
    assert_eq!(nf.tables[0].chains[0].name, "POSTROUTING");
    assert_eq!(nf.tables[0].chains[0].policy, Some(Policy::Accept));
    // CRLF line ends.
    let nf = load("*raw\r\n:OUTPUT DROP [0:0]\r\n-A OUTPUT -j ACCEPT\r\nCOMMIT\r\n").unwrap();
    assert_eq!(
        &*nf.tables[0].chains[0].rules[0].origin.text,
        "-A OUTPUT -j ACCEPT"
    );
}

#[test]
fn broken_files_give_file_line_column() {
    let cases: &[(&str, &str)] = &[
        (
            "*filter\n:INPUT ACCEPT [0:0]\n\n-A INPUT -s 10.0.0.300 -j ACCEPT\nCOMMIT\n",
            "t.txt:4:13: bad address \"10.0.0.300\" for -s",
        ),
        (
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"abc -j ACCEPT\nCOMMIT\n",
            "t.txt:3:31: unterminated quote (a quoted word must end on its line)",
        ),
        (
            "-A INPUT -j ACCEPT\n",
            "t.txt:1:1: rule or chain outside a table (no *TABLE line before it)",
        ),
        (
            "*filter\n:INPUT ACCEPT [0:0]\n",
            "t.txt:1:1: table filter is not committed (no COMMIT line before the end)",
        ),
        (
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NOPE\nCOMMIT\n",
            "t.txt:3:13: -j \"NOPE\": no such chain in table filter and no such target",
        ),
        (
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -g NOPE\nCOMMIT\n",
            "t.txt:3:13: -g \"NOPE\": no such chain in table filter and no such target",
        ),
        (
            "*filter\n*nat\n",
            "t.txt:2:1: *nat: table filter (line 1) has no COMMIT before it",
        ),
        (
            "*frob\n",
            "t.txt:1:2: unknown table \"frob\" (allowed: raw, mangle, nat, filter, security)",
        ),
        (
            "COMMIT\n",
            "t.txt:1:1: COMMIT outside a table (no *TABLE line before it)",
        ),
        (
            "*filter\n[1:x] -A INPUT\nCOMMIT\n",
            "t.txt:2:1: bad counters \"[1:x]\" (expected [PACKETS:BYTES])",
        ),
        (
            "*filter\n:X ACCEPT [0:0]\nCOMMIT\n",
            "t.txt:2:4: user chain X takes the policy - (only built-in chains of table filter have one)",
        ),
        (
            "*filter\n:INPUT QUEUE [0:0]\nCOMMIT\n",
            "t.txt:2:8: bad policy \"QUEUE\" (allowed: ACCEPT, DROP)",
        ),
        (
            "*filter\n-A Y -j ACCEPT\nCOMMIT\n",
            "t.txt:2:4: chain \"Y\" does not exist in table filter (declare it with a :Y - [0:0] line first)",
        ),
        (
            "*filter\n-I INPUT -j ACCEPT\nCOMMIT\n",
            "t.txt:2:1: \"-I\": only -A CHAIN rules, :CHAIN lines and COMMIT are read",
        ),
        (
            "*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A X -j INPUT\nCOMMIT\n",
            "t.txt:4:9: cannot jump to built-in chain INPUT",
        ),
        (
            "*filter\n: - [0:0]\nCOMMIT\n",
            "t.txt:2:1: a chain line is :NAME POLICY [PACKETS:BYTES]",
        ),
        (
            "*filter\n:X - [0:0]\n:X - [0:0]\nCOMMIT\n",
            "t.txt:3:1: chain X is declared twice",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&err(text), want, "{text:?}");
    }
    let rules: &[(&str, &str)] = &[
        ("! ! -s 1.2.3.4", "t.txt:4:12: two ! in a row"),
        (
            "-s 1.2.3.4 !",
            "t.txt:4:21: ! at the end of the rule (it goes before an option)",
        ),
        (
            "-s 1.2.3.4/33",
            "t.txt:4:13: bad prefix length in \"1.2.3.4/33\" for -s",
        ),
        (
            "-d 1.2.3.4/255.0.255.0",
            "t.txt:4:13: mask 255.0.255.0 in \"1.2.3.4/255.0.255.0\" is not contiguous (not modelled)",
        ),
        ("-s 1.2.3.4 -s 1.2.3.5", "t.txt:4:21: -s is given twice"),
        (
            "-p frob",
            "t.txt:4:13: unknown protocol \"frob\" (a name such as tcp, udp, icmp, all, or a number)",
        ),
        (
            "-i abcdefghijklmnop",
            "t.txt:4:13: bad interface name \"abcdefghijklmnop\" (1 to 15 characters, + at the end for a prefix)",
        ),
        (
            "-p tcp -m tcp --dport 99999",
            "t.txt:4:32: bad port or range \"99999\" (P, A:B, :B or A:)",
        ),
        (
            "-p tcp -m tcp --dport 9:1",
            "t.txt:4:32: range \"9:1\" ends before it starts",
        ),
        (
            "-p tcp -m tcp --tcp-flags SYN,FOO SYN",
            "t.txt:4:36: unknown TCP flag \"FOO\" (FIN, SYN, RST, PSH, ACK, URG, ALL, NONE)",
        ),
        (
            "-m conntrack --ctstate NEWISH",
            "t.txt:4:33: unknown state \"NEWISH\" (INVALID, ESTABLISHED, RELATED, NEW, UNTRACKED, SNAT, DNAT)",
        ),
        (
            "-m state --state DNAT",
            "t.txt:4:27: unknown state \"DNAT\" (INVALID, ESTABLISHED, RELATED, NEW, UNTRACKED)",
        ),
        ("-m set", "t.txt:4:13: -m set needs --match-set NAME DIRS"),
        ("-m mark -j ACCEPT", "t.txt:4:13: -m mark needs --mark"),
        (
            "-m ttl",
            "t.txt:4:13: -m ttl needs --ttl-eq, --ttl-lt or --ttl-gt",
        ),
        (
            "-m set --match-set x up",
            "t.txt:4:31: bad set direction \"up\" (allowed: src, dst)",
        ),
        (
            "-m limit --limit 20000/sec",
            "t.txt:4:27: --limit \"20000/sec\" is too fast (at most 10000/second)",
        ),
        (
            "-m limit --limit 5/fortnight",
            "t.txt:4:27: bad --limit \"5/fortnight\" (N/sec, N/minute, N/hour or N/day)",
        ),
        (
            "-m mark --mark 0x1/zz",
            "t.txt:4:25: bad mark \"0x1/zz\" (VALUE or VALUE/MASK)",
        ),
        (
            "-j REJECT --reject-with icmp-frob",
            "t.txt:4:34: unknown --reject-with \"icmp-frob\" (icmp-net-unreachable, icmp-host-unreachable, icmp-port-unreachable, icmp-proto-unreachable, icmp-net-prohibited, icmp-host-prohibited, icmp-admin-prohibited, tcp-reset)",
        ),
        (
            "-j MARK",
            "t.txt:4:13: -j MARK needs --set-xmark, --set-mark, --and-mark, --or-mark or --xor-mark",
        ),
        ("-j SNAT", "t.txt:4:13: -j SNAT needs --to-source"),
        (
            "-j DNAT --to-destination 1.2.3.4:80-70",
            "t.txt:4:35: bad ports \"80-70\" in \"1.2.3.4:80-70\" (P or P-Q)",
        ),
        (
            "-j ACCEPT -j DROP",
            "t.txt:4:20: a rule has one target (-j or -g)",
        ),
        ("-g ACCEPT", "t.txt:4:13: -g ACCEPT: -g takes a user chain"),
        ("-s", "t.txt:4:10: -s needs a value"),
        ("foo", "t.txt:4:10: \"foo\" is not an option"),
        (
            "-m comment ! --comment x",
            "t.txt:4:23: ! cannot go with --comment",
        ),
        (
            "-m ttl ! --ttl-lt 3",
            "t.txt:4:19: ! cannot go with --ttl-lt",
        ),
        (
            "-j LOG --log-level 9",
            "t.txt:4:29: bad --log-level \"9\" (0 to 7 or a syslog name)",
        ),
    ];
    for (r, want) in rules {
        assert_eq!(&rule_err(r), want, "{r:?}");
    }
}

#[test]
fn ipset_save() {
    let mut nf = NfLoad::default();
    nf.load_ipset(&fixture("edge.ipset.txt"), Path::new("ipset.txt"), 1)
        .unwrap();
    let names: Vec<_> = nf.sets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["allow", "nets", "svc", "netsvc", "ports", "group"]);
    let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
    assert_eq!(
        nf.sets[0].kind,
        IpSetKind::HashIp([ip("10.0.0.1"), ip("10.0.0.2")].into())
    );
    assert_eq!(
        nf.sets[1].kind,
        IpSetKind::HashNet(vec![net("10.1.2.3/32"), net("192.168.0.0/16")])
    );
    assert_eq!(
        nf.sets[2].kind,
        IpSetKind::HashIpPort(
            [
                (ip("10.0.0.3"), 6, 443),
                (ip("10.0.0.2"), 17, 53),
                (ip("10.0.0.1"), 6, 80)
            ]
            .into()
        )
    );
    assert_eq!(
        nf.sets[3].kind,
        IpSetKind::HashNetPort(vec![(net("10.2.0.0/24"), 6, 22)])
    );
    assert_eq!(nf.sets[4].kind, IpSetKind::BitmapPort([80, 443].into()));
    assert_eq!(nf.sets[5].kind, IpSetKind::Unsupported("list:set".into()));

    let mut nf = NfLoad::default();
    nf.load_ipset(
        "create a hash:ip\nadd a 10.0.0.0/30\nadd a 10.0.1.1-10.0.1.2 timeout 5\ncreate b hash:ip,port\nadd b 1.1.1.1,53\ncreate c hash:net family inet6\nadd c ::1\ncreate d hash:net\nadd d 10.0.0.0/8 nomatch\n",
        Path::new("s.txt"),
        1,
    )
    .unwrap();
    match &nf.sets[0].kind {
        IpSetKind::HashIp(s) => assert_eq!(s.len(), 6),
        k => panic!("{k:?}"),
    }
    assert_eq!(
        nf.sets[1].kind,
        IpSetKind::HashIpPort([(ip("1.1.1.1"), 6, 53)].into())
    );
    assert_eq!(
        nf.warnings,
        [
            "s.txt:6: set c of type hash:net family inet6 is not modelled: rules matching it are marked",
            "s.txt:9: nomatch element 10.0.0.0/8 of set d is not modelled: it is left out",
        ]
    );

    let bad: &[(&str, &str)] = &[
        (
            "add x 1.2.3.4\n",
            "s.txt:1:5: add to set x before its create line",
        ),
        (
            "create x hash:ip\nadd x 1.2.3\n",
            "s.txt:2:7: bad address \"1.2.3\"",
        ),
        (
            "create x hash:ip\ncreate x hash:ip\n",
            "s.txt:2:8: set x is created twice",
        ),
        (
            "create x bitmap:port\n",
            "s.txt:1:10: bitmap:port needs range FROM-TO",
        ),
        (
            "create x bitmap:port range 0-10\nadd x 80\n",
            "s.txt:2:7: port \"80\" is outside the set's range 0-10",
        ),
        (
            "create x hash:ip,port\nadd x 1.2.3.4,gre:5\n",
            "s.txt:2:7: protocol \"gre\" in \"gre:5\" is not modelled (tcp, udp, sctp, udplite)",
        ),
        (
            "flush x\n",
            "s.txt:1:1: \"flush\": an ipset save line is create or add",
        ),
        ("create x\n", "s.txt:1:8: set x has no type"),
    ];
    for (text, want) in bad {
        let e = NfLoad::default()
            .load_ipset(text, Path::new("s.txt"), 1)
            .unwrap_err();
        assert_eq!(&e.to_string(), want, "{text:?}");
    }
}

#[test]
fn nft_json_tables_iptables_manages_come_from_iptables_txt_and_the_others_load() {
    let names = |nf: &NfLoad| -> Vec<String> {
        nf.nft
            .iter()
            .map(|t| format!("{} {}", t.family.name(), t.name))
            .collect()
    };
    let mut nf = load(&fixture("edge.iptables-c.txt")).unwrap();
    let before = nf.warnings.len();
    nf.check_nft_json(&fixture("edge.nft.json"), Path::new("nft.json"))
        .unwrap();
    assert_eq!(names(&nf), ["inet firewalld"]);
    assert_eq!(nf.warnings.len(), before, "{:?}", &nf.warnings[before..]);
    // Without iptables.txt, every table of nft.json is nft's own.
    let mut nf = NfLoad::default();
    nf.check_nft_json(&fixture("edge.nft.json"), Path::new("nft.json"))
        .unwrap();
    assert_eq!(
        names(&nf),
        [
            "ip mangle",
            "ip filter",
            "ip nat",
            "ip raw",
            "inet firewalld"
        ]
    );
    let mut nf = NfLoad::default();
    nf.check_nft_json("", Path::new("nft.json")).unwrap();
    assert!(nf.warnings.is_empty() && nf.nft.is_empty());
    let e = nf
        .check_nft_json("{\"nftables\": [\n  {\"table\": }]}", Path::new("nft.json"))
        .unwrap_err();
    assert_eq!(e.to_string(), "nft.json:2:13: expected value");
    let e = nf.check_nft_json("[]", Path::new("nft.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "nft.json:1:1: expected an object with an \"nftables\" array (nft -j list ruleset)"
    );
}

fn normalise_headers(s: &str) -> String {
    s.lines()
        .map(|l| {
            if l.starts_with("# Generated by") {
                "# Generated by fwdsim".to_string()
            } else if l.starts_with("# Completed") {
                "# Completed by fwdsim".to_string()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

fn ns_with(nf: NfLoad) -> Netns {
    let mut ns = Netns::new();
    ns.nf = nf.into_netfilter().map(Box::new);
    ns
}

#[test]
fn save_counters_round_trip() {
    // Counters set to those the file had give the file back.
    let mut nf = NfLoad::default();
    let text = fixture("edge.iptables-c.txt");
    nf.load_iptables(
        &text,
        Path::new("d/iptables.txt"),
        "iptables.txt",
        XtBackend::Nft,
        1,
    )
    .unwrap();
    let legacy = fixture("edge.iptables-legacy.txt");
    nf.load_iptables(
        &legacy,
        Path::new("d/iptables-legacy.txt"),
        "iptables-legacy.txt",
        XtBackend::Legacy,
        1,
    )
    .unwrap();
    for t in &mut nf.tables {
        for c in &mut t.chains {
            c.counters = c.saved;
            for r in &mut c.rules {
                r.counters = r.saved;
            }
        }
    }
    let ns = ns_with(nf);
    assert_eq!(save_counters(&ns, "iptables.txt"), normalise_headers(&text));
    assert_eq!(
        save_counters(&ns, "iptables-legacy.txt"),
        normalise_headers(&legacy)
    );
    assert_eq!(save_counters(&ns, "other.txt"), "");

    // Simulated counters start at zero: the docker file without -c comes
    // back as its -c twin.
    let ns = ns_with(load(&fixture("docker-28.iptables.txt")).unwrap());
    assert_eq!(
        save_counters(&ns, "t.txt"),
        normalise_headers(&fixture("docker-28.iptables-c.txt"))
    );
    // And what it writes loads again to the same rules.
    let again = load(&save_counters(&ns, "t.txt")).unwrap();
    let nf = ns.nf.as_ref().unwrap();
    for (a, b) in again.tables.iter().zip(&nf.tables) {
        for (ca, cb) in a.chains.iter().zip(&b.chains) {
            assert_eq!(ca.name, cb.name);
            assert_eq!(ca.policy, cb.policy);
            for (ra, rb) in ca.rules.iter().zip(&cb.rules) {
                assert_eq!(
                    (&ra.ip, &ra.matches, &ra.target),
                    (&rb.ip, &rb.matches, &rb.target)
                );
            }
        }
    }
    assert_eq!(save_counters(&Netns::new(), "t.txt"), "");
}

#[test]
fn netfilter_is_built_with_hooks_and_buckets() {
    let mut nf = load(&fixture("edge.iptables-c.txt")).unwrap();
    nf.sysctl("net.netfilter.nf_conntrack_tcp_loose", "0");
    nf.sysctl("net.netfilter.nf_conntrack_max", "65536");
    let nf = nf.into_netfilter().unwrap();
    assert_eq!(nf.limits.len(), 1);
    assert!(!nf.sysctl.tcp_loose);
    assert_eq!(
        nf.sysctl.other,
        [(
            "net.netfilter.nf_conntrack_max".to_string(),
            "65536".to_string()
        )]
    );
    assert!(nf.hooks.iter().all(|h| !h.is_empty()));
    assert!(NfLoad::default().into_netfilter().is_none());
}

/// Words that rules are made of, valid and not.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-A".to_string()),
        Just("INPUT".to_string()),
        Just("X".to_string()),
        Just("!".to_string()),
        Just("-s".to_string()),
        Just("-p".to_string()),
        Just("tcp".to_string()),
        Just("-m".to_string()),
        Just("multiport".to_string()),
        Just("set".to_string()),
        Just("--match-set".to_string()),
        Just("--dport".to_string()),
        Just("--dports".to_string()),
        Just("--tcp-flags".to_string()),
        Just("-j".to_string()),
        Just("-g".to_string()),
        Just("MARK".to_string()),
        Just("--set-mark".to_string()),
        Just("DNAT".to_string()),
        Just("--to-destination".to_string()),
        Just("-c".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("[1:2]".to_string()),
        Just("COMMIT".to_string()),
        Just("*filter".to_string()),
        Just(":X".to_string()),
        Just(":\"é".to_string()),
        Just("é".to_string()),
        Just("\n".to_string()),
        "[0-9a-z:/,.\\-]{0,12}",
        "\\PC{0,6}",
    ]
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(words in prop::collection::vec(word(), 0..40)) {
        let body = words.join(" ");
        let text = format!("*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A INPUT {body}\nCOMMIT\n");
        let _ = load(&text);
        let _ = load(&body);
        let _ = NfLoad::default().load_ipset(&body, Path::new("s"), 1);
        let _ = NfLoad::default().load_ipset(&format!("create a hash:ip,port\nadd a {body}\ncreate b bitmap:port range {body}\n"), Path::new("s"), 1);
    }
}

#[test]
fn rpfilter_flags_parse() {
    let rp = |r: &str| {
        let text = format!("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING {r}\nCOMMIT\n");
        load(&text).unwrap_or_else(|e| panic!("{r}: {e}")).tables[0].chains[0].rules[0]
            .matches
            .clone()
    };
    assert_eq!(
        rp("-s 192.168.0.0/16 -m rpfilter"),
        [XtMatch::Rpfilter {
            loose: false,
            validmark: false,
            accept_local: false,
            invert: false
        }]
    );
    assert_eq!(
        rp("-m rpfilter --loose --validmark --accept-local --invert -j DROP"),
        [XtMatch::Rpfilter {
            loose: true,
            validmark: true,
            accept_local: true,
            invert: true
        }]
    );
    let e = err("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m rpfilter ! --loose\nCOMMIT\n");
    assert!(e.contains("! cannot go with --loose"), "{e}");
}

/// iptables-nft's `-F` then `-X` delete the base chains whose policy is ACCEPT and
/// `iptables-save` still prints them: the ones `nft -j list ruleset` does
/// not list are not hooked (fixtures/hosts/docker-firewalld-reloaded).
#[test]
fn builtin_chains_missing_from_nft_json_are_not_hooked() {
    use fwdsim_kernel::netfilter::NfInetHook;
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/hosts/docker-firewalld-reloaded"
    ));
    let mut nf = load(&std::fs::read_to_string(dir.join("iptables.txt")).unwrap()).unwrap();
    let filter = |nf: &NfLoad| {
        nf.tables
            .iter()
            .find(|t| t.name == TableName::Filter)
            .unwrap()
            .clone()
    };
    let t = filter(&nf);
    assert!(t.hook_chain(NfInetHook::LocalIn).is_some());
    nf.check_nft_json(
        &std::fs::read_to_string(dir.join("nft.json")).unwrap(),
        &dir.join("nft.json"),
    )
    .unwrap();
    let t = filter(&nf);
    assert_eq!(t.hook_chain(NfInetHook::LocalIn), None);
    assert_eq!(t.hook_chain(NfInetHook::LocalOut), None);
    let fwd = t.hook_chain(NfInetHook::Forward).unwrap();
    assert_eq!(t.chains[fwd].policy, Some(Policy::Drop));
    // Still written back as iptables-save prints them.
    assert_eq!(t.chains.len(), 3);
}
