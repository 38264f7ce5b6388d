//! Topologies on the command line: `topo show` on the bundled fixtures
//! (each made for real by fixtures/topologies/make.sh) and on the
//! hand-written TOML topology, and the errors of loading one.

use std::process::{Command, Output};

fn fwdsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fwdsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run fwdsim")
}

fn links(topology: &str) -> Vec<String> {
    let o = fwdsim(&["topo", "show", topology]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("link ").map(str::to_string))
        .collect()
}

#[test]
fn every_fixture_topology_loads_with_its_links() {
    let docker = ["host/eth0 <-> uplink/up0", "host/veth3a1f2c9 <-> ctr/eth0"];
    for t in [
        "docker-forwarding-off",
        "docker-forwarding-on",
        "docker-forward-drop",
        "docker-no-masquerade",
    ] {
        assert_eq!(links(&format!("fixtures/topologies/{t}")), docker, "{t}");
    }
    assert_eq!(
        links("fixtures/topologies/user-bridge"),
        [
            "host/eth0 <-> uplink/up0",
            "host/veth3a1f2c9 <-> ctr/eth0",
            "host/veth71c0e2d <-> c1/eth0",
            "host/veth9b4d6a1 <-> c2/eth0",
        ]
    );
    assert_eq!(
        links("fixtures/topologies/k8s-pod"),
        [
            "host/eth0 <-> client/eth0",
            "host/cali5f1e2d3c4b6 <-> pod/eth0"
        ]
    );
    let rr = [
        "a/eth0 <-> r1/eth0",
        "r1/eth1 <-> r2/eth1",
        "r2/eth0 <-> b/eth0",
    ];
    assert_eq!(links("fixtures/topologies/two-routers"), rr);
    assert_eq!(links("fixtures/topologies/two-routers.toml"), rr);
}

#[test]
fn the_hand_written_topology_has_the_dumped_ones_routes() {
    let show = |h: &str| {
        let o = fwdsim(&["host", "show", "--host", h]);
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains(" via "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let o = fwdsim(&["topo", "show", "-j", "fixtures/topologies/two-routers.toml"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "r1", "r2"]);
    assert_eq!(v["links"][1]["a"], "r1/eth1");
    assert!(
        show("fixtures/topologies/two-routers/r1")
            .iter()
            .any(|l| l.starts_with("10.0.2.0/24 via 10.0.12.2 dev eth1"))
    );
}

#[test]
fn a_bad_link_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/topologies/two-routers.toml"),
    )
    .unwrap()
    .replace("b = \"b/eth0\"", "b = \"b/eth3\"")
    .replace("path = \"two-routers/b\"", "path = \"a.toml\"");
    std::fs::write(
        dir.path().join("a.toml"),
        "[[interface]]\nname = \"eth0\"\n",
    )
    .unwrap();
    let f = dir.path().join("t.toml");
    std::fs::write(&f, &text).unwrap();
    let line = text.lines().position(|l| l == "b = \"b/eth3\"").unwrap() + 1;
    let o = fwdsim(&["topo", "show", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "fwdsim: {}:{line}: link end \"b/eth3\": no device eth3 in namespace b (its devices: lo, eth0)\n",
            f.display()
        )
    );
}
