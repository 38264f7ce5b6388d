//! The kernel is the judge: each TOML host is built in a real network
//! namespace with the commands the format stands for (`ip link`, `ip addr
//! add`, `sysctl -w`, `ip route add`, `ip rule add`), and what the kernel
//! then shows (`ip -j -4 route show table all`, `ip -j -4 rule show`, the
//! addresses, `sysctl net.ipv4`) is compared with what `load_toml` +
//! `show_json` give. The namespace is also dumped with `dump` and loaded
//! back with `load_snapshot`, which must show the same again.
//!
//! Needs root and iproute2; run with
//! `cargo test -p fwdsim-host --test kernel` (as root; skips with a message otherwise).
//! Namespaces are named `fws-host-k<pid>-*` and deleted afterwards, also on
//! failure. No traffic is sent.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

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

/// Two namespaces (the host and the peers of its veth devices), deleted on drop.
struct Lab {
    ns: String,
    peer: String,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let base = format!("fws-host-k{}-{tag}", std::process::id());
        let lab = Lab {
            ns: base.clone(),
            peer: format!("{base}-p"),
        };
        let _ = run(&["ip", "netns", "del", &lab.ns]);
        let _ = run(&["ip", "netns", "del", &lab.peer]);
        run(&["ip", "netns", "add", &lab.ns]).unwrap();
        run(&["ip", "netns", "add", &lab.peer]).unwrap();
        lab
    }

    fn ip(&self, args: &str) -> Result<String, String> {
        let mut v = vec!["ip", "-n", &self.ns];
        v.extend(args.split_whitespace());
        run(&v)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.ns]);
        let _ = run(&["ip", "netns", "del", &self.peer]);
    }
}

fn sysctl_items(v: Option<&toml::Value>, prefix: &str, out: &mut Vec<(String, String)>) {
    if let Some(toml::Value::Table(t)) = v {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(_) => sysctl_items(Some(v), &key, out),
                toml::Value::Boolean(b) => out.push((key, (*b as i32).to_string())),
                toml::Value::String(s) => out.push((key, s.clone())),
                v => out.push((key, v.to_string())),
            }
        }
    }
}

/// Builds the TOML host in `lab` with the commands it stands for.
fn build(lab: &Lab, text: &str) -> Result<(), String> {
    let host: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
    let empty = Vec::new();
    let arr = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .unwrap_or(&empty)
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    lab.ip("link set lo up")?;
    let ifaces = host
        .get("interface")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    for (n, i) in ifaces.iter().enumerate() {
        let name = i["name"].as_str().unwrap();
        if name == "lo" {
            continue;
        }
        let peer = format!("kp{n}");
        run(&[
            "ip", "link", "add", name, "netns", &lab.ns, "type", "veth", "peer", "name", &peer,
            "netns", &lab.peer,
        ])?;
        let ifindex: u32 = {
            let j: Value = serde_json::from_str(&lab.ip(&format!("-j link show {name}"))?).unwrap();
            j[0]["ifindex"].as_u64().unwrap() as u32
        };
        let mac = match i.get("mac") {
            Some(m) => m.as_str().unwrap().to_string(),
            None => {
                let b = ifindex.to_be_bytes();
                format!("02:00:00:{:02x}:{:02x}:{:02x}", b[1], b[2], b[3])
            }
        };
        lab.ip(&format!("link set {name} address {mac}"))?;
        if let Some(m) = i.get("mtu") {
            lab.ip(&format!("link set {name} mtu {m}"))?;
        }
        if let Some(g) = i.get("group") {
            lab.ip(&format!("link set {name} group {g}"))?;
        }
        if i.get("carrier").and_then(|c| c.as_bool()) != Some(false) {
            run(&["ip", "-n", &lab.peer, "link", "set", &peer, "up"])?;
        }
        if i.get("state").and_then(|s| s.as_str()) != Some("down") {
            lab.ip(&format!("link set {name} up"))?;
        }
    }
    for i in &ifaces {
        let name = i["name"].as_str().unwrap();
        for a in arr(i.get("addresses")) {
            let brd = if a.contains("brd") || a.contains("broadcast") {
                ""
            } else {
                " brd +"
            };
            lab.ip(&format!("addr add {a}{brd} dev {name}"))?;
        }
    }
    let mut sysctls = Vec::new();
    sysctl_items(host.get("sysctl"), "", &mut sysctls);
    for i in &ifaces {
        let name = i["name"].as_str().unwrap();
        sysctl_items(
            i.get("sysctl"),
            &format!("net.ipv4.conf.{name}"),
            &mut sysctls,
        );
    }
    for (k, v) in sysctls {
        run(&[
            "ip",
            "netns",
            "exec",
            &lab.ns,
            "sysctl",
            "-q",
            "-w",
            &format!("{k}={v}"),
        ])?;
    }
    for r in arr(host.get("routes")) {
        lab.ip(&format!("route add {r}"))?;
    }
    for r in arr(host.get("rules")) {
        lab.ip(&format!("rule add {r}"))?;
    }
    let neighs = host
        .get("neigh")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    for n in &neighs {
        let f = |k: &str| n.get(k).and_then(|v| v.as_str()).unwrap_or("");
        lab.ip(&format!(
            "neigh replace {} lladdr {} dev {} nud {}",
            f("address"),
            f("lladdr"),
            f("dev"),
            match f("state") {
                "" => "permanent",
                s => s,
            }
        ))?;
    }
    Ok(())
}

fn lines(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| serde_json::to_string(x).unwrap())
        .collect()
}

/// Compares two JSON arrays element by element, as text (so key order
/// counts); returns a readable diff.
fn diff(what: &str, kernel: &Value, model: &Value) -> Option<String> {
    let (k, m) = (lines(kernel), lines(model));
    if k == m {
        return None;
    }
    let mut s = format!("{what} differs (- kernel, + fwdsim):\n");
    for l in &k {
        if !m.contains(l) {
            s += &format!("- {l}\n");
        }
    }
    for l in &m {
        if !k.contains(l) {
            s += &format!("+ {l}\n");
        }
    }
    if k.len() == m.len() && k.iter().all(|l| m.contains(l)) {
        s += "  (same entries, different order)\n";
        for (a, b) in k.iter().zip(&m) {
            s += &format!("  k {a}\n  m {b}\n");
        }
    }
    Some(s)
}

/// The IPv4 part of `ip -j addr`: per device, the addresses (the keys both
/// sides have).
fn addrs(v: &Value) -> Value {
    Value::Array(
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let infos: Vec<Value> = d["addr_info"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|a| a["family"] == "inet")
                    .cloned()
                    .collect();
                serde_json::json!({
                    "ifindex": d["ifindex"], "ifname": d["ifname"], "flags": d["flags"],
                    "mtu": d["mtu"], "group": d["group"], "address": d["address"],
                    "addr_info": infos,
                })
            })
            .collect(),
    )
}

/// Every modelled sysctl that `sysctl net.ipv4` shows must have the kernel's value.
fn sysctl_diff(ns: &fwdsim_kernel::Netns, text: &str) -> Option<String> {
    let mut s = String::new();
    for l in text.lines() {
        let Some((k, v)) = l.split_once(" = ") else {
            continue;
        };
        let Ok(v) = v.trim().parse::<i64>() else {
            continue;
        };
        let Ok(m) = ns.sysctl_get(k) else {
            continue;
        };
        if m == v {
            continue;
        }
        s += &format!("  {k}: kernel {v}, fwdsim {m}\n");
    }
    (!s.is_empty()).then(|| format!("sysctl differs:\n{s}"))
}

/// `show_text`'s route and rule sections against `ip -4 route show table
/// all` and `ip -4 rule show`, line by line.
fn text_diff(lab: &Lab, ns: &fwdsim_kernel::Netns) -> Vec<String> {
    let text = fwdsim_host::show_text(ns);
    let sections: Vec<&str> = text.split("\n\n").collect();
    let mut out = Vec::new();
    for (what, cmd, model) in [
        ("route text", "-4 route show table all", sections[1]),
        ("rule text", "-4 rule show", sections[2]),
    ] {
        let kernel = lab.ip(cmd).unwrap();
        let k: Vec<&str> = kernel.lines().collect();
        let m: Vec<String> = model.lines().map(str::to_string).collect();
        if k != m {
            let mut s = format!("{what} differs (- kernel, + fwdsim):\n");
            for l in &k {
                if !m.iter().any(|x| x == l) {
                    s += &format!("- {l:?}\n");
                }
            }
            for l in &m {
                if !k.contains(&l.as_str()) {
                    s += &format!("+ {l:?}\n");
                }
            }
            out.push(s);
        }
    }
    out
}

fn check_host(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let tag = path
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(12)
        .collect::<String>();
    let lab = Lab::new(&tag);
    let mut problems = Vec::new();
    if let Err(e) = build(&lab, &text) {
        return vec![format!("{}: building in the kernel: {e}", path.display())];
    }
    let ns = match fwdsim_host::load_toml(path) {
        Ok(ns) => ns,
        Err(e) => {
            return vec![format!(
                "{}: fwdsim refuses what the kernel took: {e}",
                path.display()
            )];
        }
    };
    let model = fwdsim_host::show_json(&ns);
    let kroute: Value =
        serde_json::from_str(&lab.ip("-j -4 route show table all").unwrap()).unwrap();
    let krule: Value = serde_json::from_str(&lab.ip("-j -4 rule show").unwrap()).unwrap();
    let kaddr = addrs(&serde_json::from_str(&lab.ip("-j addr show").unwrap()).unwrap());
    let ksys = run(&["ip", "netns", "exec", &lab.ns, "sysctl", "net.ipv4"]).unwrap();
    let maddr = addrs(&model["addr"]);
    problems.extend(diff("route", &kroute, &model["route"]));
    problems.extend(diff("rule", &krule, &model["rule"]));
    problems.extend(diff("addr", &kaddr, &maddr));
    problems.extend(sysctl_diff(&ns, &ksys));
    problems.extend(text_diff(&lab, &ns));

    // The same namespace through a snapshot.
    let dir = std::env::temp_dir().join(format!("{}-snap", lab.ns));
    let _ = std::fs::remove_dir_all(&dir);
    fwdsim_host::dump(&dir, Some(&lab.ns)).unwrap();
    match fwdsim_host::load_snapshot(&dir) {
        Ok(snap) => {
            let s = fwdsim_host::show_json(&snap);
            problems.extend(diff("snapshot route", &kroute, &s["route"]));
            problems.extend(diff("snapshot rule", &krule, &s["rule"]));
            problems.extend(diff("snapshot addr", &kaddr, &addrs(&s["addr"])));
            problems.extend(sysctl_diff(&snap, &ksys).map(|d| format!("snapshot {d}")));
            if snap.fib.has_custom_rules != ns.fib.has_custom_rules {
                problems.push("snapshot has_custom_rules differs from the TOML host's".into());
            }
        }
        Err(e) => problems.push(format!("load_snapshot: {e}")),
    }
    let _ = std::fs::remove_dir_all(&dir);
    problems
        .into_iter()
        .map(|p| format!("{}: {p}", path.display()))
        .collect()
}

fn hosts() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = Vec::new();
    for dir in [root.join("tests/data"), root.join("../../fixtures/hosts")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    v.push(p);
                }
            }
        }
    }
    v.sort();
    v
}

/// Whether namespaces can be made here; without them the kernel tests skip
/// with a message, except in CI (`CI=true`), where they fail.
fn can_run() -> bool {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = format!("fws-host-probe-{}-{n}", std::process::id());
    let ok = run(&["ip", "netns", "add", &probe]).is_ok();
    if ok {
        let _ = run(&["ip", "netns", "del", &probe]);
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| !v.trim().is_empty()) {
        panic!("CI=true but network namespaces cannot be made (root and iproute2 are needed)");
    }
    eprintln!("skipped: network namespaces cannot be made here (needs root and iproute2)");
    false
}

#[test]
fn toml_hosts_match_the_kernel() {
    if !can_run() {
        return;
    }
    let only = std::env::var("FWS_HOST_ONLY").ok();
    let mut problems = Vec::new();
    for p in hosts() {
        if only
            .as_deref()
            .is_some_and(|o| !p.to_string_lossy().contains(o))
        {
            continue;
        }
        eprintln!("checking {}", p.display());
        problems.extend(check_host(&p));
    }
    if !problems.is_empty() {
        panic!("\n{}", problems.join("\n"));
    }
}

/// `FWS_HOST_DUMP_NS=NAME FWS_HOST_DUMP_DIR=DIR cargo test -p fwdsim-host
/// --test kernel dump_namespace -- --ignored`: writes a snapshot of a
/// namespace with `fwdsim_host::dump` (how the snapshot fixtures are made).
#[test]
#[ignore = "a tool: dumps the namespace named by FWS_HOST_DUMP_NS into FWS_HOST_DUMP_DIR"]
fn dump_namespace() {
    let (Ok(ns), Ok(dir)) = (
        std::env::var("FWS_HOST_DUMP_NS"),
        std::env::var("FWS_HOST_DUMP_DIR"),
    ) else {
        eprintln!("set FWS_HOST_DUMP_NS and FWS_HOST_DUMP_DIR");
        return;
    };
    fwdsim_host::dump(Path::new(&dir), Some(&ns)).unwrap();
    fwdsim_host::load_snapshot(Path::new(&dir)).unwrap();
}

/// `FWS_HOST_REGEN=1 cargo test -p fwdsim-host --test kernel
/// regenerate_router_snapshot -- --ignored`: rebuilds
/// fixtures/hosts/router-snapshot/ from tests/data/router.toml (plus one
/// permanent neighbour) with `fwdsim_host::dump`, and
/// tests/data/sysctl-a.txt from `sysctl -a` in the same namespace (only the
/// `net.*` keys and a few global ones, without `tcp_fastopen_key`).
#[test]
#[ignore = "a tool: regenerates the router snapshot fixture (needs root)"]
fn regenerate_router_snapshot() {
    if std::env::var("FWS_HOST_REGEN").is_err() {
        eprintln!("set FWS_HOST_REGEN=1");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/data/router.toml")).unwrap();
    let lab = Lab::new("router");
    build(&lab, &text).unwrap();
    lab.ip("neigh add 192.168.1.254 lladdr 02:00:00:00:01:fe dev lan0 nud permanent")
        .unwrap();
    let dir = root.join("../../fixtures/hosts/router-snapshot");
    fwdsim_host::dump(&dir, Some(&lab.ns)).unwrap();
    fwdsim_host::load_snapshot(&dir).unwrap();
    let all = run(&["ip", "netns", "exec", &lab.ns, "sysctl", "-a"]).unwrap();
    let mut keep: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with("fs.") || l.starts_with("vm."))
        .take(12)
        .collect();
    keep.extend(
        all.lines()
            .filter(|l| l.starts_with("net.") && !l.contains("fastopen_key")),
    );
    std::fs::write(root.join("tests/data/sysctl-a.txt"), keep.join("\n") + "\n").unwrap();
}

/// One `# try: fwdsim route get ARGS --host PATH [--sysctl K=V]...` line of
/// a fixture's header with the `# kernel: ...` lines after it.
struct Try {
    args: String,
    sysctls: Vec<String>,
    answer: Vec<String>,
}

fn tries(text: &str) -> Vec<Try> {
    let mut out: Vec<Try> = Vec::new();
    for l in text.lines() {
        if let Some(t) = l.strip_prefix("# try: fwdsim route get ") {
            let (args, rest) = t.split_once(" --host ").expect("--host in a try line");
            let sysctls = rest
                .split(" --sysctl ")
                .skip(1)
                .map(|s| s.trim().to_string())
                .collect();
            out.push(Try {
                args: args.trim().to_string(),
                sysctls,
                answer: Vec::new(),
            });
        } else if let Some(k) = l.strip_prefix("# kernel: ") {
            out.last_mut()
                .expect("a try line first")
                .answer
                .push(k.trim_end().to_string());
        }
    }
    out
}

#[test]
fn fixture_answers_are_the_kernels() {
    if !can_run() {
        return;
    }
    let mut problems = Vec::new();
    for p in hosts() {
        let text = std::fs::read_to_string(&p).unwrap();
        for (n, t) in tries(&text).into_iter().enumerate() {
            let lab = Lab::new(&format!("try{n}"));
            if let Err(e) = build(&lab, &text) {
                problems.push(format!("{}: {e}", p.display()));
                break;
            }
            for s in &t.sysctls {
                run(&["ip", "netns", "exec", &lab.ns, "sysctl", "-q", "-w", s]).unwrap();
            }
            let mut argv = vec!["ip", "-n", &lab.ns, "route", "get"];
            argv.extend(t.args.split_whitespace());
            let out = Command::new(argv[0]).args(&argv[1..]).output().unwrap();
            let got: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .chain(String::from_utf8_lossy(&out.stderr).lines())
                .map(|l| l.trim_end().to_string())
                .collect();
            if got != t.answer {
                problems.push(format!(
                    "{}: ip route get {} {:?}\n  written: {:?}\n  kernel:  {:?}",
                    p.display(),
                    t.args,
                    t.sysctls,
                    t.answer,
                    got
                ));
            }
        }
    }
    if !problems.is_empty() {
        panic!("\n{}", problems.join("\n"));
    }
}

/// `fwdsim sysctl set` (`sysctl_edit::sysctl_set`) against `sysctl -w`: each
/// fixture host is built in a namespace and dumped; then a series of writes
/// goes to the kernel with `sysctl -w` and to both the snapshot and a copy of
/// the TOML file, and after each write every modelled value of the edited
/// files, reloaded, must equal what `sysctl net.ipv4` shows in the kernel.
#[test]
fn sysctl_set_matches_sysctl_w() {
    use fwdsim_host::sysctl_edit::sysctl_set;
    if !can_run() {
        return;
    }
    let mut problems = Vec::new();
    for p in hosts() {
        let text = std::fs::read_to_string(&p).unwrap();
        let lab = Lab::new("set");
        if let Err(e) = build(&lab, &text) {
            problems.push(format!("{}: building in the kernel: {e}", p.display()));
            continue;
        }
        let work = tempfile::tempdir().unwrap();
        let snap = work.path().join("snap");
        fwdsim_host::dump(&snap, Some(&lab.ns)).unwrap();
        let toml = work.path().join("host.toml");
        std::fs::write(&toml, &text).unwrap();
        let first_dev = fwdsim_host::load_toml(&p)
            .unwrap()
            .devices
            .iter()
            .find(|d| d.name != "lo")
            .map(|d| d.name.clone())
            .unwrap_or_else(|| "lo".into());
        let fwd = fwdsim_host::load_toml(&p)
            .unwrap()
            .sysctl_get("net.ipv4.ip_forward")
            .unwrap();
        let writes = [
            format!("net.ipv4.ip_forward={}", 1 - fwd),
            format!("net.ipv4.conf.{first_dev}.forwarding={fwd}"),
            "net.ipv4.conf.default.rp_filter=2".to_string(),
            "net.ipv4.conf.all.forwarding=1".to_string(),
            format!("net.ipv4.conf.{first_dev}.accept_local=1"),
        ];
        let mut toml_ok = true;
        for w in &writes {
            let (k, v) = w.split_once('=').unwrap();
            let at = format!("{}: after `sysctl -w {w}`", p.display());
            if let Err(e) = run(&["ip", "netns", "exec", &lab.ns, "sysctl", "-q", "-w", w]) {
                problems.push(format!("{at}: {e}"));
                break;
            }
            let ksys = run(&["ip", "netns", "exec", &lab.ns, "sysctl", "net.ipv4"]).unwrap();
            let kv = vec![(k.to_string(), v.parse::<i64>().unwrap())];
            match sysctl_set(&snap, &kv).and_then(|_| fwdsim_host::load_snapshot(&snap)) {
                Ok(ns) => {
                    problems.extend(sysctl_diff(&ns, &ksys).map(|d| format!("{at}: snapshot {d}")))
                }
                Err(e) => problems.push(format!("{at}: snapshot: {e}")),
            }
            if toml_ok {
                match sysctl_set(&toml, &kv) {
                    Ok(_) => {
                        let ns = fwdsim_host::load_toml(&toml).unwrap();
                        problems.extend(sysctl_diff(&ns, &ksys).map(|d| format!("{at}: TOML {d}")));
                    }
                    // A refusal leaves the file as it was; later writes
                    // would start from another state, so the TOML copy stops.
                    Err(e) if e.to_string().contains("edit the file by hand") => toml_ok = false,
                    Err(e) => problems.push(format!("{at}: TOML: {e}")),
                }
            }
        }
    }
    if !problems.is_empty() {
        panic!("\n{}", problems.join("\n"));
    }
}

/// The route and rule counterfactuals of `explain` (`ip route del ...`,
/// `ip rule del pref N`) against the kernel: each host is built in a fresh
/// namespace, the change is made there with `ip`, and `ip route get` must
/// give what the counterfactual says.
#[test]
fn explain_route_and_rule_counterfactuals_match_the_kernel() {
    use fwdsim_kernel::ipv4::rtnetlink::RouteGetRequest;
    if !can_run() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "../../fixtures/hosts/reject-routes.toml",
            "192.0.2.1",
            "10.0.1.2",
            "eth0",
        ),
        (
            "../../fixtures/hosts/reject-routes.toml",
            "192.0.2.65",
            "10.0.1.2",
            "eth0",
        ),
        (
            "../../fixtures/hosts/reject-routes.toml",
            "192.0.2.129",
            "10.0.1.2",
            "eth0",
        ),
        (
            "../../fixtures/hosts/reject-routes.toml",
            "192.0.2.193",
            "10.0.1.2",
            "eth0",
        ),
        (
            "tests/data/rule-actions.toml",
            "8.8.8.8",
            "10.0.1.2",
            "eth0",
        ),
        (
            "tests/data/rule-actions.toml",
            "198.51.100.1",
            "10.0.1.2",
            "eth0",
        ),
        (
            "tests/data/rule-actions.toml",
            "203.0.113.9",
            "10.0.1.2",
            "eth0",
        ),
        (
            "tests/data/no-default-route.toml",
            "8.8.8.8",
            "172.17.0.2",
            "docker0",
        ),
    ];
    let mut problems = Vec::new();
    for (file, dst, src, iif) in cases {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let ns = fwdsim_host::load_toml(&path).unwrap();
        let mut req = RouteGetRequest::new(dst.parse().unwrap());
        req.src = src.parse().unwrap();
        req.iif = Some(ns.dev_by_name(iif).unwrap().ifindex);
        let x = fwdsim_kernel::explain::explain(&ns, &req);
        let structural: Vec<_> = x
            .counterfactuals
            .iter()
            .filter(|c| c.change.starts_with("ip "))
            .collect();
        let at = format!("{file}: {dst} from {src} iif {iif}");
        if structural.is_empty() {
            problems.push(format!("{at}: no route or rule counterfactual"));
        }
        for c in structural {
            let lab = Lab::new("cf");
            build(&lab, &text).unwrap();
            if let Err(e) = lab.ip(c.change.trim_start_matches("ip ")) {
                problems.push(format!("{at}: `{}`: {e}", c.change));
                continue;
            }
            let kernel = lab.ip(&format!("route get {dst} from {src} iif {iif}"));
            let agree = match (&kernel, &c.answer) {
                (Ok(k), Ok(r)) => {
                    let first = k.lines().next().unwrap_or("");
                    let dev = format!(" dev {} ", ns.dev_name(r.dev));
                    let via = r.gateway.map(|g| format!(" via {g} "));
                    first.contains(&dev) && via.is_none_or(|v| first.contains(&v))
                }
                (Err(k), Err(e)) => k.ends_with(e.errno.message()),
                _ => false,
            };
            if !agree {
                problems.push(format!(
                    "{at}: with `{}`: kernel {kernel:?}, fwdsim {:?}",
                    c.change, c.answer
                ));
            }
        }
    }
    if !problems.is_empty() {
        panic!("\n{}", problems.join("\n"));
    }
}
