//! Snapshots of real namespaces (made by `fwdsim_host::dump`, see
//! tests/kernel.rs) load, and print back what the kernel printed.

use std::path::{Path, PathBuf};

use fwdsim_host::{HostError, load_host, load_snapshot, show_json, show_text};
use serde_json::Value;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/hosts")
        .join(p)
}

fn file_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn lines(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.to_string())
        .collect()
}

/// Drops what the model does not keep (realms, metrics other than mtu),
/// and K1 of tests/kernel.rs: the model flags host-scope routes of devices
/// that are down or without carrier.
fn without_unmodelled(routes: &Value) -> Vec<String> {
    routes
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let o = r.as_object_mut().unwrap();
            o.shift_remove("flow");
            if let Some(m) = o.get("metrics").cloned() {
                let keep: Vec<Value> = m
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|x| x.get("mtu").is_some())
                    .cloned()
                    .collect();
                if keep.is_empty() {
                    o.shift_remove("metrics");
                } else {
                    o.insert("metrics".into(), Value::Array(keep));
                }
            }
            if o.get("scope").is_some_and(|s| s == "host") {
                o.insert("flags".into(), Value::Array(vec![]));
            }
            r.to_string()
        })
        .collect()
}

#[test]
fn rich_snapshot_prints_back_what_the_kernel_printed() {
    let dir = data("rich-snapshot");
    let ns = load_snapshot(&dir).unwrap();
    let shown = show_json(&ns);
    let want = without_unmodelled(&file_json(&dir.join("route.json")));
    let got = without_unmodelled(&shown["route"]);
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w, g, "route #{i}");
    }
    assert_eq!(want.len(), got.len());

    let mut want_rules = lines(&file_json(&dir.join("rule.json")));
    // Realms are not modelled: the rule loads without them.
    for r in want_rules.iter_mut() {
        *r = r.replace(",\"flow_to\":\"3\"", "");
    }
    assert_eq!(want_rules, lines(&shown["rule"]));
    assert!(ns.fib.has_custom_rules);
    assert!(
        ns.fib.has_custom_local_routes,
        "`ip route add local` was used"
    );
    let r402 = ns.fib.rules.iter().find(|r| r.pref == 402).unwrap();
    assert!(r402.iif_detached());
    // Kernel routes were not added twice: one local route per address.
    let locals = shown["route"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dst"] == "10.0.1.1" && r["type"] == "local")
        .count();
    assert_eq!(locals, 1);
    // Devices: the down one, the one without carrier.
    let e3 = ns.dev_by_name("e3").unwrap();
    assert!(!e3.is_up());
    let e5 = ns.dev_by_name("e5").unwrap();
    assert!(e5.is_up() && !e5.carrier);
    assert_eq!(
        ns.sysctl_get("net.ipv4.conf.e5.ignore_routes_with_linkdown")
            .unwrap(),
        1
    );
    // A text rendering exists for every section.
    let t = show_text(&ns);
    assert!(
        t.contains("2: e1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP group default\n")
    );
    assert!(t.contains("    inet 10.0.1.5/24 scope global secondary e1\n"));
    assert!(t.contains("172.22.0.0/16 \n\tnexthop via 10.0.1.2 dev e1 weight 2 \n\tnexthop via 10.200.0.9 dev e2 weight 1 \n"));
    assert!(
        t.contains("172.20.0.0/16 via 10.0.1.2 dev e1 mtu 1300 \n"),
        "JSON loses `lock`"
    );
    assert!(t.contains("402:\tfrom all iif nonexist [detached] lookup 100\n"));
    assert!(t.contains("401:\tfrom all tos 0x10 fwmark 0x7/0xff lookup 100\n"));
    assert!(t.contains("707:\tfrom all lookup [l3mdev-table]\n"));
    assert!(t.contains("712:\tfrom all goto 900 [unresolved]\n"));
}

#[test]
fn router_snapshot_fixture_loads() {
    let dir = fixture("router-snapshot");
    let ns = load_host(&dir).unwrap();
    let shown = show_json(&ns);
    let want = without_unmodelled(&file_json(&dir.join("route.json")));
    assert_eq!(want, without_unmodelled(&shown["route"]));
    assert_eq!(
        lines(&file_json(&dir.join("rule.json"))),
        lines(&shown["rule"])
    );
    assert_eq!(ns.sysctl_get("net.ipv4.ip_forward").unwrap(), 1);
    assert_eq!(ns.sysctl_get("net.ipv4.conf.lan0.forwarding").unwrap(), 1);
    assert!(ns.fib.has_custom_rules);
}

fn snapshot_with(
    replace: &str,
    text: &str,
) -> (tempdir::Dir, Result<fwdsim_kernel::Netns, HostError>) {
    let d = tempdir::Dir::new();
    for f in [
        "addr.json",
        "route.json",
        "rule.json",
        "neigh.json",
        "sysctl.txt",
    ] {
        let src = fixture("router-snapshot").join(f);
        if f == replace {
            std::fs::write(d.0.join(f), text).unwrap();
        } else {
            std::fs::copy(src, d.0.join(f)).unwrap();
        }
    }
    let r = load_snapshot(&d.0);
    (d, r)
}

mod tempdir {
    /// A directory under the system's temporary directory, removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "fwdsim-host-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let (d, r) = snapshot_with(
        "route.json",
        "[\n  {\"dst\": \"10.0.0.0/8\",\n   \"dev\": }\n]\n",
    );
    match r {
        Err(HostError::Json {
            file, line, column, ..
        }) => {
            assert_eq!(file, d.0.join("route.json"));
            assert_eq!((line, column), (3, 11));
        }
        other => panic!("{other:?}"),
    }
    let (_d, r) = snapshot_with("addr.json", "[{\"ifindex\": \"two\", \"ifname\": \"x\"}]");
    let e = r.unwrap_err();
    assert!(matches!(e, HostError::Json { line: 1, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("invalid type: string \"two\", expected u32"),
        "{e}"
    );
    let (_d, r) = snapshot_with("neigh.json", "{oops");
    assert!(matches!(r.unwrap_err(), HostError::Json { .. }));
}

#[test]
fn snapshot_errors_are_precise() {
    let (d, r) = snapshot_with(
        "route.json",
        "[{\"dst\":\"10.9.0.0/16\",\"gateway\":\"10.0.1.254\",\"dev\":\"eth9\",\"flags\":[]}]",
    );
    match r {
        Err(HostError::UnknownDevice { file, name }) => {
            assert_eq!(file, d.0.join("route.json"));
            assert_eq!(name, "eth9");
        }
        other => panic!("{other:?}"),
    }
    let addr = std::fs::read_to_string(fixture("router-snapshot/addr.json")).unwrap();
    let dup = addr.replacen("\"ifindex\":3,", "\"ifindex\":2,", 1);
    let (_d, r) = snapshot_with("addr.json", &dup);
    assert!(
        matches!(r, Err(HostError::DuplicateIfindex { ifindex: 2, .. })),
        "{r:?}"
    );
    let bad = addr.replacen(
        "\"local\":\"198.51.100.2\"",
        "\"local\":\"198.51.100.300\"",
        1,
    );
    let (_d, r) = snapshot_with("addr.json", &bad);
    let e = r.unwrap_err();
    assert!(matches!(e, HostError::BadAddress { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("\"198.51.100.300\" is not an IPv4 address"),
        "{e}"
    );
    let (_d, r) = snapshot_with(
        "rule.json",
        "[{\"priority\":5,\"src\":\"all\",\"table\":\"vpn\"}]",
    );
    let e = r.unwrap_err();
    assert!(matches!(e, HostError::BadRule { .. }), "{e}");
    let (_d, r) = snapshot_with("sysctl.txt", "net.ipv4.ip_forward = maybe\n");
    assert!(matches!(r, Err(HostError::BadSysctl { .. })));
    // A missing file is named; neigh.json may be missing.
    let d = tempdir::Dir::new();
    for f in ["addr.json", "route.json", "rule.json", "sysctl.txt"] {
        std::fs::copy(fixture("router-snapshot").join(f), d.0.join(f)).unwrap();
    }
    load_snapshot(&d.0).unwrap();
    std::fs::remove_file(d.0.join("rule.json")).unwrap();
    match load_snapshot(&d.0) {
        Err(HostError::MissingFile { file }) => assert_eq!(file, d.0.join("rule.json")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        load_host(&d.0.join("nope")),
        Err(HostError::NotFound { .. })
    ));
}

#[test]
fn default_rules_only_means_no_custom_rules_and_a_missing_default_stays_missing() {
    let defaults = "[{\"priority\":0,\"src\":\"all\",\"table\":\"local\"},{\"priority\":32766,\"src\":\"all\",\"table\":\"main\"},{\"priority\":32767,\"src\":\"all\",\"table\":\"default\"}]";
    let (_d, r) = snapshot_with("rule.json", defaults);
    let ns = r.unwrap();
    assert!(!ns.fib.has_custom_rules);
    assert_eq!(ns.fib.rules.len(), 3);
    let no_default = "[{\"priority\":0,\"src\":\"all\",\"table\":\"local\"},{\"priority\":32766,\"src\":\"all\",\"table\":\"main\"}]";
    let (_d, r) = snapshot_with("rule.json", no_default);
    let ns = r.unwrap();
    assert!(ns.fib.has_custom_rules);
    assert_eq!(
        ns.fib.rules.iter().map(|r| r.pref).collect::<Vec<_>>(),
        [0, 32766]
    );
}

#[test]
fn sysctl_a_output_loads() {
    let (_d, r) = snapshot_with(
        "sysctl.txt",
        &std::fs::read_to_string(data("sysctl-a.txt")).unwrap(),
    );
    let ns = r.unwrap();
    assert_eq!(ns.sysctl_get("net.ipv4.ip_forward").unwrap(), 1);
    assert_eq!(ns.sysctl_get("net.ipv4.conf.eth0.rp_filter").unwrap(), 2);
}

#[test]
fn ipv6_entries_of_a_dump_without_dash_4_are_skipped() {
    let route = std::fs::read_to_string(fixture("router-snapshot/route.json")).unwrap();
    let with6 = route.trim_end().trim_end_matches(']').to_string()
        + ",{\"dst\":\"fe80::/64\",\"dev\":\"eth0\",\"protocol\":\"kernel\",\"metric\":256,\"flags\":[],\"pref\":\"medium\"}"
        + ",{\"type\":\"multicast\",\"dst\":\"ff00::/8\",\"dev\":\"eth0\",\"table\":\"local\",\"protocol\":\"kernel\",\"metric\":256,\"flags\":[],\"pref\":\"medium\"}]";
    let (_d, r) = snapshot_with("route.json", &with6);
    let ns = r.unwrap();
    assert_eq!(
        lines(&show_json(&ns)["route"]),
        lines(&file_json(&fixture("router-snapshot/route.json")))
    );
}

// See: issue 8 (`host show` leaves out `master docker0`).
#[test]
fn bridge_ports_keep_their_master() {
    let ns = load_snapshot(&fixture("docker-29-nft")).unwrap();
    let port = ns.dev_by_name("vethc").unwrap();
    let docker0 = ns.dev_by_name("docker0").unwrap().ifindex;
    assert_eq!(port.master, Some(docker0));
    assert_eq!(ns.dev_by_name("eth0").unwrap().master, None);
    // `ip -j addr` does not say the master's kind: a master of unknown kind is a bridge.
    assert!(ns.netif_is_bridge_master(docker0));
    assert_eq!(ns.br_port_master(port.ifindex), Some(docker0));
    assert_eq!(ns.br_port_master(docker0), None);
    let t = show_text(&ns);
    assert!(
        t.contains("3: vethc: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master docker0 state UP group default\n"),
        "{t}"
    );
    let j = show_json(&ns);
    let addr = j["addr"].as_array().unwrap();
    let vethc = addr.iter().find(|l| l["ifname"] == "vethc").unwrap();
    assert_eq!(vethc["master"], "docker0");
    assert!(
        addr.iter()
            .find(|l| l["ifname"] == "eth0")
            .unwrap()
            .get("master")
            .is_none()
    );
}

#[test]
fn linkinfo_of_ip_d_names_the_kind() {
    let addr = r#"[
 {"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[]},
 {"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","SLAVE","UP","LOWER_UP"],"mtu":1500,"master":"bond0","operstate":"UP","link_type":"ether","address":"02:00:00:00:00:02","broadcast":"ff:ff:ff:ff:ff:ff","linkinfo":{"info_slave_kind":"bond"},"addr_info":[]},
 {"ifindex":3,"ifname":"bond0","flags":["BROADCAST","MULTICAST","MASTER","UP","LOWER_UP"],"mtu":1500,"operstate":"UP","link_type":"ether","address":"02:00:00:00:00:02","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[]},
 {"ifindex":4,"ifname":"veth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"master":"br0","operstate":"UP","link_type":"ether","address":"02:00:00:00:00:04","broadcast":"ff:ff:ff:ff:ff:ff","linkinfo":{"info_kind":"veth","info_slave_kind":"bridge"},"addr_info":[]},
 {"ifindex":5,"ifname":"br0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"operstate":"UP","link_type":"ether","address":"02:00:00:00:00:05","broadcast":"ff:ff:ff:ff:ff:ff","linkinfo":{"info_kind":"bridge"},"addr_info":[]}
]"#;
    let (d, _) = snapshot_with("addr.json", addr);
    // Only these devices: no routes or neighbours on the router's.
    std::fs::write(d.0.join("route.json"), "[]").unwrap();
    std::fs::write(d.0.join("neigh.json"), "[]").unwrap();
    let ns = load_snapshot(&d.0).unwrap();
    let idx = |n: &str| ns.dev_by_name(n).unwrap().ifindex;
    assert!(matches!(
        ns.dev_by_name("veth1").unwrap().kind,
        fwdsim_kernel::netns::DevKind::Veth { .. }
    ));
    assert!(ns.netif_is_bridge_master(idx("br0")));
    assert!(!ns.netif_is_bridge_master(idx("bond0")));
    assert_eq!(ns.br_port_master(idx("veth1")), Some(idx("br0")));
    assert_eq!(ns.br_port_master(idx("eth0")), None);
    assert_eq!(ns.dev_by_name("eth0").unwrap().master, Some(idx("bond0")));
}

#[test]
fn unknown_master_is_an_error() {
    let addr = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[]},
 {"ifindex":2,"ifname":"veth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"master":"br9","operstate":"UP","link_type":"ether","address":"02:00:00:00:00:04","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[]}]"#;
    let (d, _) = snapshot_with("addr.json", addr);
    std::fs::write(d.0.join("route.json"), "[]").unwrap();
    std::fs::write(d.0.join("neigh.json"), "[]").unwrap();
    match load_snapshot(&d.0) {
        Err(HostError::UnknownDevice { name, .. }) => assert_eq!(name, "br9"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn toml_interfaces_name_their_master() {
    let text = r#"
[[interface]]
name = "docker0"
mac = "02:42:ac:11:00:01"
addresses = ["172.17.0.1/16"]
kind = "bridge"

[[interface]]
name = "veth1a2b3c4"
master = "docker0"
"#;
    let ns = fwdsim_host::load_toml_str(text, "host.toml").unwrap();
    let br = ns.dev_by_name("docker0").unwrap().ifindex;
    let port = ns.dev_by_name("veth1a2b3c4").unwrap();
    assert_eq!(port.master, Some(br));
    assert_eq!(ns.br_port_master(port.ifindex), Some(br));
    assert!(show_text(&ns).contains(
        " veth1a2b3c4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master docker0 state UP"
    ));
    let bad = "[[interface]]\nname = \"veth1\"\nmaster = \"br9\"\n";
    match fwdsim_host::load_toml_str(bad, "host.toml") {
        Err(HostError::UnknownDevice { name, .. }) => assert_eq!(name, "br9"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// `fdb.json` (`bridge -j -s fdb show`): the bridge's entries load into its
/// FDB (static and sticky ones flagged, a learned one aged from its
/// `updated`), the devices' own `self` entries are left out, and an entry
/// naming a device the snapshot lacks is an error naming the file.
#[test]
fn fdb_json_loads_into_the_bridge() {
    use fwdsim_kernel::bridge::FdbFlags;
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/topologies/docker-forwarding-off/host");
    let d = tempdir::Dir::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), d.0.join(e.file_name())).unwrap();
    }
    let fdb = r#"[
      {"mac":"33:33:00:00:00:01","ifname":"docker0","flags":["self"],"state":"permanent"},
      {"mac":"02:11:22:33:44:55","ifname":"veth3a1f2c9","used":1,"updated":1,"flags":[],"master":"docker0","state":"static"},
      {"mac":"02:11:22:33:44:66","ifname":"veth3a1f2c9","used":3,"updated":2,"flags":["sticky"],"master":"docker0","state":""},
      {"mac":"02:11:22:33:44:77","ifname":"veth3a1f2c9","used":3,"updated":2,"flags":[],"master":"docker0","state":""}
    ]"#;
    std::fs::write(d.0.join("fdb.json"), fdb).unwrap();
    let ns = load_snapshot(&d.0).unwrap();
    let br = ns.dev_by_name("docker0").unwrap();
    let port = ns.dev_by_name("veth3a1f2c9").unwrap().ifindex;
    let b = br.bridge().unwrap();
    let entry = |m: [u8; 6]| b.fdb.iter().find(|e| e.addr == m).cloned();
    let st = entry([2, 0x11, 0x22, 0x33, 0x44, 0x55]).expect("the static entry");
    assert_eq!(st.dst, Some(port));
    assert!(st.flags.contains(FdbFlags::BR_FDB_STATIC));
    let sticky = entry([2, 0x11, 0x22, 0x33, 0x44, 0x66]).expect("the sticky entry");
    assert!(sticky.flags.contains(FdbFlags::BR_FDB_STICKY));
    assert!(!sticky.flags.contains(FdbFlags::BR_FDB_STATIC));
    let learned = entry([2, 0x11, 0x22, 0x33, 0x44, 0x77]).expect("the learned entry");
    assert_eq!((learned.dst, learned.flags), (Some(port), FdbFlags(0)));
    assert!(entry([0x33, 0x33, 0, 0, 0, 1]).is_none(), "a self entry");

    std::fs::write(
        d.0.join("fdb.json"),
        r#"[{"mac":"02:11:22:33:44:55","ifname":"veth0","master":"docker0","state":""}]"#,
    )
    .unwrap();
    let e = load_snapshot(&d.0).unwrap_err();
    assert!(
        matches!(&e, HostError::UnknownDevice { file, name } if file.ends_with("fdb.json") && name == "veth0"),
        "{e}"
    );
}
