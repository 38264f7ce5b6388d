//! The text parser against real `nft list ruleset` output: each
//! `fixtures/netfilter/*.nft-list.txt` must load into the model the
//! matching `nft -j list ruleset` file loads into.

use super::*;
use fwdsim_kernel::netfilter::nf_tables::{NftChain, NftPolicy};

fn fixture(name: &str) -> String {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/netfilter/");
    std::fs::read_to_string(format!("{p}{name}")).unwrap()
}

fn from_text(text: &str) -> (Vec<NftTable>, Vec<String>) {
    load_nft_text(text, Path::new("nft.json"), 1, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn from_json(name: &str) -> (Vec<NftTable>, Vec<String>) {
    crate::nft_json::load_nft_json(Path::new("nft.json"), &fixture(name), &[]).unwrap()
}

/// `nft.json:12: x` as the JSON loader says it: `nft.json: x`.
fn without_lines(notes: &[String]) -> Vec<String> {
    notes
        .iter()
        .map(
            |n| match n.strip_prefix("nft.json:").and_then(|r| r.split_once(": ")) {
                Some((l, rest)) if l.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("nft.json: {rest}")
                }
                _ => n.clone(),
            },
        )
        .collect()
}

fn err_of(text: &str) -> String {
    match load_nft_text(text, Path::new("h.toml"), 10, &[]) {
        Ok(_) => panic!("no error for {text:?}"),
        Err(e) => e.to_string(),
    }
}

/// Every `nft list ruleset` fixture: the same tables, chains (with their
/// handles), rules (handles, text, expressions, comments, counters), sets
/// and maps, and the same notes, as its `nft -j` twin. The handles are
/// compared as they are: the parser numbers them as the kernel does for a
/// fresh `nft -f`, so no normalisation is needed.
#[test]
fn every_fixture_loads_as_its_json_twin() {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/netfilter/");
    let mut seen = 0;
    let mut names: Vec<_> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".nft-list.txt"))
        .collect();
    names.sort();
    for name in names {
        let base = name.trim_end_matches(".nft-list.txt");
        let (tt, tw) = from_text(&fixture(&name));
        let (jt, jw) = from_json(&format!("{base}.json"));
        assert_eq!(tt.len(), jt.len(), "{name}: tables");
        for (a, b) in tt.iter().zip(&jt) {
            assert_eq!(a.title(), b.title(), "{name}");
            assert_eq!(a.sets, b.sets, "{name}: {} sets", a.title());
            assert_eq!(
                a.chains.len(),
                b.chains.len(),
                "{name}: {} chains",
                a.title()
            );
            for (ca, cb) in a.chains.iter().zip(&b.chains) {
                assert_eq!(
                    (&ca.name, ca.handle, ca.base),
                    (&cb.name, cb.handle, cb.base),
                    "{name}"
                );
                let text = |c: &NftChain| -> Vec<(u64, String)> {
                    c.rules
                        .iter()
                        .map(|r| (r.handle, r.text.to_string()))
                        .collect()
                };
                assert_eq!(text(ca), text(cb), "{name}: chain {}", ca.name);
                assert_eq!(ca.rules, cb.rules, "{name}: chain {}", ca.name);
            }
            assert_eq!(a, b, "{name}");
        }
        // The same notes, each with the line of what it is about.
        assert_eq!(without_lines(&tw), jw, "{name}: notes");
        assert!(
            tw.iter()
                .all(|n| n.starts_with("nft.json:") && !n.starts_with("nft.json: ")),
            "{tw:?}"
        );
        seen += 1;
    }
    assert!(seen >= 3, "{seen} fixtures");
}

#[test]
fn handles_are_numbered_per_table_as_a_fresh_load() {
    let v = nft_text_to_json(
        "table ip t {\n set s { type ipv4_addr; }\n chain c { tcp dport { 1, 2 } accept\n ip saddr @s drop }\n chain d { }\n}\ntable inet u { chain c { accept } }\n",
        Path::new("x"),
        1,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let handles: Vec<(String, u64)> = v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|it| {
            let (k, b) = it.as_object()?.iter().next()?;
            Some((k.clone(), b.get("handle")?.as_u64()?))
        })
        .collect();
    let want: Vec<(String, u64)> = [
        ("table", 1),
        ("set", 3),
        ("chain", 1),
        ("chain", 2),
        // The anonymous set { 1, 2 } takes handle 4.
        ("rule", 5),
        ("rule", 6),
        ("table", 2),
        ("chain", 1),
        ("rule", 2),
    ]
    .iter()
    .map(|(k, h)| (k.to_string(), *h))
    .collect();
    assert_eq!(handles, want);
}

#[test]
fn defines_priorities_and_flush_ruleset() {
    let text = "flush ruleset\ndefine WAN = \"eth0\"\ndefine NETS = { 10.0.0.0/8, 192.168.0.0/16 }\n\
        table ip t {\n chain f {\n  type filter hook forward priority filter - 5; policy drop;\n  \
        iifname $WAN ip saddr $NETS counter drop # a comment\n }\n \
        chain m { type filter hook prerouting priority mangle + 10; }\n \
        chain n { type nat hook postrouting priority srcnat; policy accept; oifname \"veth*\" masquerade to :1024-2048 }\n}\n";
    let (t, notes) = from_text(text);
    assert_eq!(notes, Vec::<String>::new());
    let t = &t[0];
    let prio: Vec<i32> = t.chains.iter().map(|c| c.base.unwrap().priority).collect();
    assert_eq!(prio, vec![-5, -140, 100]);
    assert_eq!(t.chains[0].base.unwrap().policy, NftPolicy::Drop);
    assert_eq!(
        t.chains[0].rules[0].text.as_ref(),
        "iifname \"eth0\" ip saddr { 10.0.0.0/8, 192.168.0.0/16 } counter drop"
    );
    assert_eq!(
        t.chains[2].rules[0].text.as_ref(),
        "oifname \"veth*\" masquerade to :1024-2048"
    );
}

#[test]
fn statements_of_real_rulesets() {
    let text = r#"table ip t {
	set ok { type ipv4_addr . inet_service; elements = { 10.0.0.1 . 22 } }
	map v { type ifname : verdict; elements = { "docker0" : jump x } }
	chain x { return }
	chain c {
		ip daddr . tcp dport @ok accept
		iifname vmap @v
		iifname vmap { "docker0" : jump x, "lo" : accept }
		ct state established,related accept
		ct status dnat accept
		fib saddr . iif oif missing drop
		fib daddr type local goto x
		meta l4proto { tcp, udp } th dport 53 accept
		ip saddr != 10.0.0.0/8 ip daddr 10.1.0.1-10.1.0.9 drop
		limit rate 10/second burst 20 packets accept
		log prefix "x: " drop
		meta mark set 0x10
		ct mark set meta mark
		notrack
		reject with icmp type host-prohibited
		reject with tcp reset
		reject
		udp dport 9 counter packets 3 bytes 120 drop comment "nine"
	}
	chain n {
		type nat hook prerouting priority dstnat;
		tcp dport 80 dnat to 10.0.0.2:8080
		tcp dport 81 dnat ip to 10.0.0.2
		tcp dport 82 redirect to :8082
		oifname "eth0" snat to 192.0.2.1:1000-2000 fully-random,persistent
	}
}
"#;
    let (t, notes) = from_text(text);
    assert_eq!(notes, Vec::<String>::new());
    let texts: Vec<String> = t[0].chains[t[0].chain_index("c").unwrap()]
        .rules
        .iter()
        .map(|r| r.text.to_string())
        .collect();
    assert_eq!(texts.len(), 18);
    assert!(
        texts.iter().all(|r| !r.contains("unsupported")),
        "{texts:?}"
    );
    let nine = &t[0].chains[t[0].chain_index("c").unwrap()].rules[17];
    assert_eq!(nine.comment.as_deref(), Some("nine"));
    assert_eq!((nine.saved.pcnt, nine.saved.bcnt), (3, 120));
    assert_eq!(t[0].chains[t[0].chain_index("n").unwrap()].rules.len(), 4);
}

#[test]
fn errors_name_the_line_and_column_of_the_toml_file() {
    let cases = [
        (
            "include \"/etc/nft.conf\"\n",
            "h.toml:10:1: include: not supported in a host file",
        ),
        (
            "table ip t {\n chain c {\n  tcp dport 22 frobnicate\n }\n}\n",
            "h.toml:12:16: unknown statement or expression \"frobnicate\"",
        ),
        (
            "table ip t {\n chain c {\n  ip saddr 10.0.0.300 drop\n }\n}\n",
            "h.toml:12:12: bad IPv4 address \"10.0.0.300\"",
        ),
        (
            "table ip t {\n chain c {\n  jump nowhere\n }\n}\n",
            "h.toml:12:8: no chain \"nowhere\" in table ip t",
        ),
        (
            "table ip t {\n chain c {\n  type filter hook input priority filteré;\n }\n}\n",
            "h.toml:12:35: bad priority \"filteré\" (a number, or raw, mangle, dstnat, filter, security, srcnat with an optional + or - number)",
        ),
        (
            "table ip t {\n chain c {\n  ip saddr @nope drop\n }\n}\n",
            "h.toml:12:12: no set or map \"nope\" in table ip t",
        ),
        (
            "table ip t {\n chain c {\n  type filter hook forward priority sideways;\n }\n}\n",
            "h.toml:12:37: bad priority \"sideways\" (a number, or raw, mangle, dstnat, filter, security, srcnat with an optional + or - number)",
        ),
        (
            "table ip t {\n chain c {\n  iifname $LAN accept\n }\n}\n",
            "h.toml:12:11: $LAN is not defined",
        ),
        (
            "table ip t {\n chain c {\n  meta frob 1\n }\n}\n",
            "h.toml:12:8: meta frob is not supported",
        ),
        (
            "table ip t {\n chain c {\n  ct state sideways accept\n }\n}\n",
            "h.toml:12:12: unknown value \"sideways\" (known: invalid, established, related, new, untracked)",
        ),
        (
            "table ip t {\n chain c {\n  log prefix \"x drop\n }\n}\n",
            "h.toml:12:14: unterminated string",
        ),
        (
            "table ip t {\n chain c {\n  accept\n",
            "h.toml:12:9: `}` missing at the end of chain c",
        ),
        (
            "add rule ip t c accept\n",
            "h.toml:10:1: `add` commands are not supported: write the ruleset as `nft list ruleset` prints it (table blocks)",
        ),
        (
            "table ip t {\n chain c {\n  policy drop\n }\n}\n",
            "h.toml:12:3: policy in a chain without `type ... hook ...`",
        ),
        (
            "table ip t {\n chain c {\n  tcp dport 1-2-3 drop\n }\n}\n",
            "h.toml:12:13: bad value \"1-2-3\" (a number expected)",
        ),
        (
            "table ip t {\n chain c {\n  ip saddr\n }\n}\n",
            "h.toml:12:3: a value expected after the expression, not end of line",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err_of(text), want, "{text:?}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Any text: an error or a ruleset, never a panic.
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = load_nft_text(&s, Path::new("h.toml"), 1, &[]);
    }

    /// Text made of the ruleset's own words, in any order.
    #[test]
    fn shuffled_words_never_panic(words in proptest::collection::vec(proptest::sample::select(vec![
        "table", "ip", "inet", "t", "{", "}", "chain", "c", "set", "map", "s", "type", "filter",
        "hook", "forward", "priority", "-", "+", "5", ";", "policy", "drop", "accept", "\n",
        "ip", "saddr", "10.0.0.1", "10.0.0.0/8", "1-2", ".", ":", ",", "@s", "jump", "vmap",
        "tcp", "dport", "ct", "state", "established", "fib", "daddr", "oif", "missing",
        "elements", "=", "define", "$X", "X", "\"eth*\"", "counter", "packets", "dnat", "to",
        "snat", "masquerade", "limit", "rate", "10/second", "burst", "log", "prefix", "/",
        "reject", "with", "icmp", "meta", "mark", "set", "0x10", "comment", "\"#\"", "!=",
        "filteré", "é", "\\", "undefine", "|", "&", "(", ")", "include", "flush", "ruleset",
    ]), 0..60)) {
        let text = words.join(" ");
        let _ = load_nft_text(&text, Path::new("h.toml"), 1, &[]);
        // The same words as the rules of a chain, and as a set's body.
        let text = format!("table ip t {{\n set s {{ type ipv4_addr; }}\n chain c {{\n{text}\n}}\n}}\n");
        let _ = load_nft_text(&text, Path::new("h.toml"), 1, &[]);
        let text = format!("table ip t {{\n map m {{\n{}\n}}\n}}\n", words.join(" "));
        let _ = load_nft_text(&text, Path::new("h.toml"), 1, &[]);
    }
}

/// The ruleset as written by hand (defines, `filter - 5`, `a | b`, `&`
/// masks, options nft does not print) loads as what nft made of it.
#[test]
fn the_hand_written_source_loads_as_nft_loaded_it() {
    let (tt, tw) = from_text(&fixture("src/hand-written.nft"));
    let (jt, jw) = from_json("hand-written.json");
    assert_eq!(tt, jt);
    assert_eq!(tw, jw);
    assert_eq!(jw, Vec::<String>::new());
}

/// Beyond the model: the JSON itself is what `nft -j` printed, item for
/// item and in its order (objects compared as maps, key order aside).
#[test]
fn the_json_is_what_nft_printed() {
    for base in [
        "docker29-default-bridge",
        "every-expression",
        "firewalld-like",
        "hand-written",
    ] {
        let ours = nft_text_to_json(&fixture(&format!("{base}.nft-list.txt")), Path::new("x"), 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let theirs: Value = serde_json::from_str(&fixture(&format!("{base}.json"))).unwrap();
        let (a, b) = (
            ours["nftables"].as_array().unwrap(),
            theirs["nftables"].as_array().unwrap(),
        );
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x, y, "{base}");
        }
        assert_eq!(a.len(), b.len(), "{base}");
    }
}
