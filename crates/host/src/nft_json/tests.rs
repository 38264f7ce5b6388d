//! The loader on real `nft -j list ruleset` output (fixtures/netfilter/,
//! made by its generate.sh in a scratch namespace) and on broken input.

use super::*;

fn fixture(name: &str) -> String {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/netfilter/");
    std::fs::read_to_string(format!("{p}{name}")).unwrap()
}

fn load(name: &str, xt: &[(&str, &str)]) -> (Vec<NftTable>, Vec<String>) {
    let xt: Vec<(String, String)> = xt
        .iter()
        .map(|(f, n)| (f.to_string(), n.to_string()))
        .collect();
    load_nft_json(Path::new("nft.json"), &fixture(name), &xt).unwrap()
}

fn texts(t: &NftTable, chain: &str) -> Vec<(u64, String)> {
    t.chains[t.chain_index(chain).unwrap()]
        .rules
        .iter()
        .map(|r| (r.handle, r.text.to_string()))
        .collect()
}

fn s(v: &[(u64, &str)]) -> Vec<(u64, String)> {
    v.iter().map(|(h, t)| (*h, t.to_string())).collect()
}

#[test]
fn docker29_default_bridge() {
    let (tables, warnings) = load("docker29-default-bridge.json", &[]);
    // The ip6 table never meets an IPv4 packet: no warning.
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(
        tables.iter().map(|t| t.title()).collect::<Vec<_>>(),
        vec!["table ip docker-bridges", "table ip6 docker-bridges"]
    );
    let t = &tables[0];
    let bases: Vec<(&str, NftChainType, NfInetHook, i32)> = t
        .chains
        .iter()
        .filter_map(|c| c.base.map(|b| (c.name.as_str(), b.ty, b.hook, b.priority)))
        .collect();
    assert_eq!(
        bases,
        vec![
            (
                "filter-FORWARD",
                NftChainType::Filter,
                NfInetHook::Forward,
                0
            ),
            ("nat-OUTPUT", NftChainType::Nat, NfInetHook::LocalOut, -100),
            (
                "nat-POSTROUTING",
                NftChainType::Nat,
                NfInetHook::PostRouting,
                100
            ),
            (
                "nat-PREROUTING",
                NftChainType::Nat,
                NfInetHook::PreRouting,
                -100
            ),
            (
                "raw-PREROUTING",
                NftChainType::Filter,
                NfInetHook::PreRouting,
                -300
            ),
        ]
    );
    assert_eq!(
        texts(t, "filter-FORWARD"),
        s(&[
            (15, "oifname vmap @filter-forward-in-jumps"),
            (16, "iifname vmap @filter-forward-out-jumps"),
        ])
    );
    assert_eq!(
        texts(t, "nat-OUTPUT"),
        s(&[(
            17,
            "ip daddr != 127.0.0.0/8 fib daddr type local counter jump nat-prerouting-and-output"
        )])
    );
    assert_eq!(
        texts(t, "filter-forward-in__docker0"),
        s(&[
            (21, "ct state established,related counter accept"),
            (22, "iifname \"docker0\" counter accept"),
            (23, "counter drop"),
        ])
    );
    assert_eq!(
        texts(t, "nat-postrouting-out__docker0"),
        s(&[(
            26,
            "oifname != \"docker0\" ip saddr 172.17.0.0/16 counter masquerade"
        )])
    );
    let c = &t.chains[t.chain_index("filter-forward-in__docker0").unwrap()];
    assert_eq!(c.rules[1].comment.as_deref(), Some("ICC"));
    // The verdict map's element jumps to the bridge's chain.
    let m = &t.sets[t.set_index("filter-forward-in-jumps").unwrap()];
    let target = t.chain_index("filter-forward-in__docker0").unwrap() as u16;
    assert_eq!(
        (m.is_map, m.key.clone(), m.elems.clone()),
        (
            true,
            vec![NftType::Ifname],
            vec![(
                NftElem::Val(NftValue::Name(IfName::new("docker0"))),
                Some(NftMapData::Verdict(NftVerdict::Jump(target)))
            )]
        )
    );
    // The masquerade rule as data.
    let r = &t.chains[t.chain_index("nat-postrouting-out__docker0").unwrap()].rules[0];
    assert_eq!(
        r.exprs,
        vec![
            NftExpr::Match {
                left: NftKey::Meta(MetaKey::Oifname),
                op: NftCmpOp::Ne,
                right: NftRhs::Elem(NftElem::Val(NftValue::Name(IfName::new("docker0")))),
            },
            NftExpr::Match {
                left: NftKey::Payload(PayloadField::IpSaddr),
                op: NftCmpOp::Eq,
                right: NftRhs::Elem(NftElem::Prefix {
                    addr: u32::from(Ipv4Addr::new(172, 17, 0, 0)),
                    len: 16
                }),
            },
            NftExpr::Counter,
            NftExpr::Nat(NftNat {
                kind: NftNatKind::Masquerade,
                addr: None,
                ports: None,
                random: false,
                random_fully: false,
                persistent: false,
            }),
        ]
    );
    // The ip6 table is listed, with its chain, and never hooked.
    assert_eq!(tables[1].family, NftFamily::Ip6);
    assert!(tables[1].chains[0].rules.is_empty());
}

#[test]
fn firewalld_inet_table() {
    let (tables, warnings) = load("firewalld-like.json", &[]);
    assert_eq!(
        warnings,
        vec![
            "nft.json: table inet firewalld chain filter_IN_public rule handle 67: not modelled: \
             {\"ct helper\":\"helper-tftp-udp\"} (ct helper not modelled; the packets reaching \
             this rule are marked)"
        ]
    );
    let t = &tables[0];
    assert_eq!((t.family, t.name.as_str()), (NftFamily::Inet, "firewalld"));
    let prio = |c: &str| t.chains[t.chain_index(c).unwrap()].base.unwrap().priority;
    assert_eq!(
        [
            prio("mangle_PREROUTING"),
            prio("nat_PREROUTING"),
            prio("nat_POSTROUTING"),
            prio("filter_PREROUTING"),
            prio("filter_INPUT")
        ],
        [-140, -90, 110, 10, 10]
    );
    assert_eq!(
        texts(t, "filter_PREROUTING"),
        s(&[
            (36, "icmpv6 type … accept"),
            (37, "meta nfproto ipv4 fib saddr . iif oif missing drop"),
            (
                38,
                "meta nfproto ipv6 fib saddr . mark . iif oif missing drop"
            ),
        ])
    );
    assert_eq!(
        texts(t, "filter_INPUT"),
        s(&[
            (40, "ct state { established, related } accept"),
            (41, "ct status dnat accept"),
            (42, "iifname \"lo\" accept"),
            (43, "ct state invalid drop"),
            (44, "jump filter_INPUT_ZONES"),
            (45, "reject with icmp admin-prohibited"),
        ])
    );
    assert_eq!(
        texts(t, "filter_IN_public"),
        s(&[
            (65, "meta l4proto { icmp, ipv6-icmp } accept"),
            (66, "tcp dport 22 ct state new,untracked accept"),
            (67, "udp dport 69 <ct helper>"),
        ])
    );
    assert_eq!(
        texts(t, "nat_PRE_public"),
        s(&[(30, "meta nfproto ipv4 tcp dport 8080 dnat to 10.0.2.2:80")])
    );
    // `reject with icmpx admin-prohibited` and the rpath rule as data.
    let input = &t.chains[t.chain_index("filter_INPUT").unwrap()];
    assert_eq!(
        input.rules[5].exprs,
        vec![NftExpr::Reject(RejectWith::AdminProhibited)]
    );
    let pre = &t.chains[t.chain_index("filter_PREROUTING").unwrap()];
    assert_eq!(
        pre.rules[1].exprs[1],
        NftExpr::Match {
            left: NftKey::Fib {
                flags: fib_flags::SADDR | fib_flags::IIF,
                result: FibResultKind::Oif
            },
            op: NftCmpOp::Eq,
            right: NftRhs::Bool(false),
        }
    );
    // The unmodelled statement lets the rule go on (it is no match).
    assert_eq!(texts(t, "filter_IN_public").len(), 3, "every rule is kept");
    let ip = &t.chains[t.chain_index("filter_IN_public").unwrap()];
    assert_eq!(
        ip.rules[2].exprs[1],
        NftExpr::Unsupported {
            name: "ct helper".into(),
            matches: false
        }
    );
}

#[test]
fn every_expression_and_the_iptables_nft_table() {
    // iptables.txt has the filter table: nft.json's `table ip filter` is skipped.
    let (tables, warnings) = load("every-expression.json", &[("ip", "filter")]);
    assert_eq!(
        tables.iter().map(|t| t.title()).collect::<Vec<_>>(),
        vec!["table ip fws", "table inet fwsinet", "table arp fwsarp"]
    );
    assert_eq!(
        warnings,
        vec![
            "nft.json: table arp fwsarp: family arp not modelled (its chains do not run)",
            "nft.json: table inet fwsinet chain output rule handle 6: not modelled: \
             {\"match\":{\"op\":\"==\",\"left\":{\"meta\":{\"key\":\"skuid\"}},\"right\":0}} \
             (meta skuid not modelled; the packets reaching this rule are marked)",
            "nft.json: table inet fwsinet chain output rule handle 7: not modelled: \
             {\"quota\":{\"val\":10,\"val_unit\":\"mbytes\",\"inv\":true}} (quota not modelled; \
             the packets reaching this rule are marked)",
            "nft.json: table inet fwsinet chain output rule handle 8: not modelled: \
             {\"match\":{\"op\":\"==\",\"left\":{\"payload\":{\"protocol\":\"ip\",\"field\":\"dscp\"}},\
             \"right\":\"cs1\"}} (payload not modelled: {\"payload\":{\"protocol\":\"ip\",\"field\":\
             \"dscp\"}}; the packets reaching this rule are marked)",
        ]
    );
    let t = &tables[0];
    assert_eq!(
        texts(t, "pre"),
        s(&[
            (14, "udp dport 53 notrack"),
            (15, "meta mark set 0x00000010"),
            (16, "ct mark set 0x00000020"),
            (17, "meta mark 0x00000010 counter"),
            (18, "ct mark != 0x00000001 counter"),
        ])
    );
    assert_eq!(
        texts(t, "fwd_filter"),
        s(&[
            (19, "ct state established,related counter accept"),
            (20, "ct state invalid counter drop"),
            (21, "ct status dnat counter accept"),
            (22, "ct direction original counter"),
            (23, "fib saddr . iif oif missing counter drop"),
            (24, "ip saddr @blocked counter drop"),
            (
                25,
                "ip saddr != 10.0.0.0/8 counter reject with icmp host-prohibited"
            ),
            (
                26,
                "tcp flags & (syn | ack) == syn tcp dport @allowed_ports counter"
            ),
            (27, "iifname . oifname @dev_pairs counter"),
            (28, "ip daddr . meta l4proto . th dport @addr_port counter"),
            (29, "iifname \"r0\" oifname \"r1\" counter accept"),
            (
                31,
                "iifname { \"eth*\", \"r0\" } tcp dport vmap @port_to_chain"
            ),
            (33, "udp dport vmap { 53 : accept, 123 : drop }"),
            (
                34,
                "icmp type echo-request limit rate 10/second burst 5 packets counter accept"
            ),
            (35, "ip ttl < 5 log prefix \"low ttl \" counter drop"),
            (36, "meta length 100-200 counter"),
            (37, "tcp dport 1-1023 reject with tcp reset"),
            (38, "udp dport 7 reject with icmp port-unreachable"),
            (39, "meta l4proto udp counter return"),
        ])
    );
    assert_eq!(
        texts(t, "in_filter"),
        s(&[
            (43, "fib daddr type local counter"),
            (45, "fib daddr type { broadcast, multicast } counter drop"),
            (46, "tcp dport 25 reject with icmp port-unreachable"),
        ])
    );
    assert_eq!(
        texts(t, "nat_pre"),
        s(&[
            (47, "tcp dport 8080 dnat to 10.0.2.2:80"),
            (48, "tcp dport 8443 dnat to 10.0.2.2-10.0.2.3:443-444"),
            (49, "tcp dport 2222 redirect to :22"),
            (50, "dnat to tcp dport map @dnat_ports"),
        ])
    );
    assert_eq!(
        texts(t, "nat_post"),
        s(&[
            (51, "oifname \"r1\" ip saddr 10.0.1.0/24 masquerade"),
            (
                52,
                "oifname \"r2\" meta l4proto tcp masquerade to :1024-65535 random"
            ),
            (53, "oifname \"r3\" snat to 10.0.2.100"),
            (
                54,
                "oifname \"r4\" meta l4proto udp snat to 10.0.2.100-10.0.2.110:2000-3000 persistent"
            ),
        ])
    );
    // Sets: prefixes, single addresses, ranges, concatenations with symbols.
    let a = |x: &str| u32::from(x.parse::<Ipv4Addr>().unwrap());
    let blocked = &t.sets[t.set_index("blocked").unwrap()];
    assert_eq!(
        blocked.elems,
        vec![
            (
                NftElem::Prefix {
                    addr: a("192.0.2.0"),
                    len: 24
                },
                None
            ),
            (NftElem::Val(NftValue::Int(a("198.51.100.7") as u64)), None),
            (
                NftElem::Range(a("203.0.113.10") as u64, a("203.0.113.20") as u64),
                None
            ),
        ]
    );
    let ap = &t.sets[t.set_index("addr_port").unwrap()];
    assert_eq!(
        ap.elems,
        vec![(
            NftElem::Concat(vec![
                NftElem::Val(NftValue::Int(a("10.0.2.2") as u64)),
                NftElem::Val(NftValue::Int(6)),
                NftElem::Val(NftValue::Int(80)),
            ]),
            None
        )]
    );
    let dn = &t.sets[t.set_index("dnat_ports").unwrap()];
    assert_eq!(
        dn.elems[0].1,
        Some(NftMapData::Value(NftElem::Concat(vec![
            NftElem::Val(NftValue::Int(a("10.0.2.2") as u64)),
            NftElem::Val(NftValue::Int(80)),
        ])))
    );
    // Limits, NAT flags and counters from the file.
    let fwd = &t.chains[t.chain_index("fwd_filter").unwrap()];
    assert_eq!(
        fwd.rules[13].exprs[1],
        NftExpr::Limit(
            NftLimit {
                rate: 10,
                unit_secs: 1,
                burst: 5,
                bytes: false,
                inv: false
            },
            NftLimitState::default()
        )
    );
    // The inet table: `ip saddr` kept, `ip6 saddr` never matches IPv4.
    assert_eq!(
        texts(&tables[1], "input"),
        s(&[
            (3, "ip saddr 10.0.1.2 counter"),
            (4, "ip6 saddr … counter"),
            (5, "reject with icmp host-unreachable"),
        ])
    );
    // Without iptables.txt's filter table, `table ip filter` is nft's own.
    let (tables, _) = load("every-expression.json", &[]);
    assert_eq!(tables[0].title(), "table ip filter");
    assert_eq!(
        texts(&tables[0], "INPUT"),
        s(&[(2, "ip saddr 192.0.2.1 counter drop")])
    );
}

#[test]
fn fixtures_register_hooks_and_conntrack() {
    use fwdsim_kernel::netfilter::Netfilter;
    use fwdsim_kernel::netfilter::core::NfHookKind;
    let (nft, _) = load("docker29-default-bridge.json", &[]);
    let mut nf = Netfilter {
        nft,
        ..Default::default()
    };
    nf.register_hooks();
    let kinds = |h: NfInetHook| -> Vec<(i32, NfHookKind)> {
        nf.hooks[h as usize]
            .iter()
            .map(|o| (o.priority, o.kind))
            .collect()
    };
    assert_eq!(
        kinds(NfInetHook::PreRouting),
        vec![
            (-300, NfHookKind::Nft { table: 0, chain: 5 }),
            (-200, NfHookKind::ConntrackIn),
            (-100, NfHookKind::Nft { table: 0, chain: 3 }),
        ]
    );
    // The ip6 table's forward chain is not hooked.
    assert_eq!(
        kinds(NfInetHook::Forward),
        vec![(0, NfHookKind::Nft { table: 0, chain: 0 })]
    );
}

#[test]
fn broken_json_is_an_error_with_its_position() {
    let e = load_nft_json(
        Path::new("snap/nft.json"),
        "{\"nftables\": [\n  {\"table\": {\"family\": \"ip\", \"name\": 5}}]}",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "snap/nft.json:2:38: invalid type: integer `5`, expected a string"
    );
    let e = load_nft_json(Path::new("nft.json"), "{\"nftables\": [{\"table\": ", &[]).unwrap_err();
    assert_eq!(e.to_string(), "nft.json:1:24: EOF while parsing a value");
    let e = load_nft_json(Path::new("nft.json"), "{}", &[]).unwrap_err();
    assert_eq!(e.to_string(), "nft.json:1:2: missing field `nftables`");
    // A rule of a chain that is not listed.
    let e = load_nft_json(
        Path::new("nft.json"),
        r#"{"nftables": [{"table": {"family": "ip", "name": "t"}},
            {"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 3, "expr": []}}]}"#,
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "nft.json: rule handle 3 of chain c in table ip t, which is not listed"
    );
    // An empty file (nft not installed, or nothing loaded) is no table.
    assert_eq!(
        load_nft_json(Path::new("nft.json"), "", &[]).unwrap(),
        (vec![], vec![])
    );
}

#[test]
fn unknown_expressions_become_unsupported_with_a_warning() {
    let text = r#"{"nftables": [
        {"table": {"family": "inet", "name": "t"}},
        {"chain": {"family": "inet", "table": "t", "name": "c", "handle": 1,
                   "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
        {"chain": {"family": "inet", "table": "t", "name": "i", "handle": 2,
                   "type": "filter", "hook": "ingress", "prio": 0, "policy": "accept"}},
        {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 4, "expr": [
            {"frobnicate": {"x": 1}},
            {"match": {"op": "==", "left": {"socket": {"key": "transparent"}}, "right": 1}},
            {"jump": {"target": "nowhere"}},
            {"accept": null}]}}]}"#;
    let (tables, warnings) = load_nft_json(Path::new("nft.json"), text, &[]).unwrap();
    assert_eq!(
        warnings,
        vec![
            "nft.json: table inet t chain i: hook ingress not modelled (the chain does not run)",
            "nft.json: table inet t chain c rule handle 4: not modelled: {\"frobnicate\":{\"x\":1}} \
             (frobnicate not modelled; the packets reaching this rule are marked)",
            "nft.json: table inet t chain c rule handle 4: not modelled: {\"match\":{\"op\":\"==\",\
             \"left\":{\"socket\":{\"key\":\"transparent\"}},\"right\":1}} (socket not modelled; \
             the packets reaching this rule are marked)",
            "nft.json: table inet t chain c rule handle 4: not modelled: {\"jump\":{\"target\":\
             \"nowhere\"}} (no chain \"nowhere\"; the packets reaching this rule are marked)",
        ]
    );
    let r = &tables[0].chains[0].rules[0];
    assert_eq!(
        r.exprs,
        vec![
            NftExpr::Unsupported {
                name: "frobnicate".into(),
                matches: false
            },
            NftExpr::Unsupported {
                name: "socket transparent".into(),
                matches: true
            },
            NftExpr::Unsupported {
                name: "jump".into(),
                matches: false
            },
            NftExpr::Verdict(NftVerdict::Accept),
        ]
    );
    assert_eq!(&*r.text, "<frobnicate> <socket transparent> <jump> accept");
    assert_eq!(tables[0].chains[1].base, None);
}
