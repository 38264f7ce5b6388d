//! `fwdsim topo dump DIR [--netns NAME[=AS]...]`: writes a topology
//! directory of the running machine (interfaces.md section 5): the
//! namespace this process runs in as `host/`, every named namespace
//! (`/run/netns`) by its name, and the namespace of every process whose
//! `/proc/PID/ns/net` is none of those (a container) by the container's
//! name, each with `host dump`'s files plus `link.json` (`ip -d -j link
//! show`), and `topology.toml` with the veth pairs found between them.
//!
//! It only reads: every command is one of `host dump`'s, `ip -d -j link
//! show` or `ip -j netns list-id`, run in the namespace it describes.
//!
//! A veth's peer is named by its `link_index` (the peer's ifindex) and
//! `link_netnsid` (the peer namespace's id as seen from this one). An id
//! is resolved by `ip -j netns list-id`, which names the named namespaces;
//! an id naming none (the root namespace or a container seen from another
//! namespace) is resolved by the pair itself: the one veth, in an unnamed
//! namespace, whose own `link_index` is this device's ifindex.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::dump::{NsRef, command_at, dump_at, failed, run, write};
use crate::error::HostError;
use crate::topology::{TOPOLOGY_FILE, topology_toml};

/// The file of each namespace's directory holding `ip -d -j link show`.
pub const LINK_FILE: &str = "link.json";

/// A namespace found on the machine.
#[derive(Clone, Debug)]
pub struct FoundNs {
    /// Its name in the topology (its directory).
    pub name: String,
    /// How to run commands in it.
    pub at: NsRef,
    /// What it is, for the summary: "root namespace", "named namespace
    /// fws-1-0", "docker container web (pid 123)", "process 99".
    pub what: String,
}

/// What `topo dump` wrote.
#[derive(Debug, Default)]
pub struct TopoDump {
    /// The namespaces, in the order they were dumped.
    pub namespaces: Vec<FoundNs>,
    /// The links, as (`NS/DEV`, `NS/DEV`).
    pub links: Vec<(String, String)>,
    /// Veths whose peer is in no dumped namespace, one line each.
    pub notes: Vec<String>,
}

/// The inode of a namespace file (`/proc/PID/ns/net`, `/run/netns/NAME`).
fn ns_inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// The named namespaces, as `ip netns list` shows them (from /run/netns).
fn named_namespaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A container id (64 hex digits) in a process's cgroup path.
fn cgroup_container_id(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in text.lines() {
        let path = line.rsplit(':').next().unwrap_or("");
        for part in path.split(['/', '-', '.']) {
            if part.len() == 64 && part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Some(part.to_string());
            }
        }
    }
    None
}

/// `HOSTNAME` from a process's environment (Docker sets it to the short id).
fn env_hostname(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|&b| b == 0).find_map(|kv| {
        let kv = std::str::from_utf8(kv).ok()?;
        kv.strip_prefix("HOSTNAME=").map(str::to_string)
    })
}

/// The Docker name of the container whose id starts with `id`, from the
/// daemon's `config.v2.json`, else from `docker inspect`.
fn docker_name(id: &str) -> Option<String> {
    if id.len() < 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let root = Path::new("/var/lib/docker/containers");
    if let Ok(d) = std::fs::read_dir(root) {
        for e in d.filter_map(Result::ok) {
            let full = e.file_name().to_string_lossy().into_owned();
            if full.starts_with(id)
                && let Ok(text) = std::fs::read_to_string(e.path().join("config.v2.json"))
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                && let Some(n) = v.get("Name").and_then(|n| n.as_str())
            {
                return Some(n.trim_start_matches('/').to_string());
            }
        }
    }
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.Name}}", id])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !name.is_empty()).then(|| name.trim_start_matches('/').to_string())
}

/// The name of a container's namespace, from one of its processes.
fn container_name(pid: u32) -> (String, String) {
    let id = cgroup_container_id(pid).or_else(|| env_hostname(pid));
    match id.as_deref().and_then(docker_name) {
        Some(n) => (n.clone(), format!("docker container {n} (pid {pid})")),
        None => (format!("pid-{pid}"), format!("process {pid}")),
    }
}

/// The namespaces of the machine: this process's (`host`), the named
/// ones, and one per other namespace a process is in (lowest pid first).
pub fn discover() -> Vec<FoundNs> {
    let mut found = vec![FoundNs {
        name: "host".into(),
        at: NsRef::Current,
        what: "root namespace".into(),
    }];
    let mut known: BTreeSet<u64> = BTreeSet::new();
    known.extend(ns_inode(Path::new("/proc/self/ns/net")));
    for n in named_namespaces() {
        known.extend(ns_inode(&Path::new("/run/netns").join(&n)));
        found.push(FoundNs {
            name: n.clone(),
            at: NsRef::Named(n.clone()),
            what: format!("named namespace {n}"),
        });
    }
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    let mut names: BTreeSet<String> = found.iter().map(|f| f.name.clone()).collect();
    for pid in pids {
        let Some(ino) = ns_inode(Path::new(&format!("/proc/{pid}/ns/net"))) else {
            continue;
        };
        if !known.insert(ino) {
            continue;
        }
        let (mut name, what) = container_name(pid);
        if names.contains(&name) {
            name = format!("{name}-{pid}");
        }
        names.insert(name.clone());
        found.push(FoundNs {
            name,
            at: NsRef::Pid(pid),
            what,
        });
    }
    found
}

/// One device of `ip -d -j link show`, as far as links need it.
#[derive(Deserialize, Debug, Clone)]
struct JLinkDev {
    ifindex: u32,
    ifname: String,
    #[serde(default)]
    link_index: Option<u32>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    link_netnsid: Option<i64>,
    #[serde(default)]
    linkinfo: Option<JLinkInfo>,
}

#[derive(Deserialize, Debug, Clone)]
struct JLinkInfo {
    #[serde(default)]
    info_kind: Option<String>,
}

impl JLinkDev {
    fn is_veth(&self) -> bool {
        self.linkinfo.as_ref().and_then(|l| l.info_kind.as_deref()) == Some("veth")
    }
}

#[derive(Deserialize, Debug)]
struct JNsid {
    nsid: i64,
    #[serde(default)]
    name: Option<String>,
}

fn run_json<T: for<'de> Deserialize<'de>>(
    file: &Path,
    base: &[&str],
    at: &NsRef,
) -> Result<(T, Vec<u8>), HostError> {
    let argv = command_at(base, at);
    let out = run(file, &argv)?;
    if !out.status.success() {
        return Err(failed(file, &argv, &out));
    }
    // `ip -j netns list-id` prints nothing at all when there are no ids.
    let text = String::from_utf8_lossy(&out.stdout);
    let text = if text.trim().is_empty() { "[]" } else { &text };
    let v = serde_json::from_str(text).map_err(|e| HostError::json(file, &e))?;
    Ok((v, out.stdout))
}

/// A device of a namespace being dumped: (namespace index, device name).
type DevAt = (usize, String);

/// The veth pairs among the namespaces (`devs[i]` is namespace `i`'s `ip
/// -d -j link show`, `ids[i]` its `ip -j netns list-id`), as pairs of
/// (namespace index, device name), and a note per veth whose peer is in
/// none of them.
fn veth_pairs(
    found: &[FoundNs],
    devs: &[Vec<JLinkDev>],
    ids: &[Vec<JNsid>],
) -> (Vec<(DevAt, DevAt)>, Vec<String>) {
    let by_name: BTreeMap<&str, usize> = found
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match &f.at {
            NsRef::Named(n) => Some((n.as_str(), i)),
            _ => None,
        })
        .collect();
    let mut pairs = Vec::new();
    let mut seen: BTreeSet<(usize, u32)> = BTreeSet::new();
    let mut notes = Vec::new();
    for (x, list) in devs.iter().enumerate() {
        for d in list.iter().filter(|d| d.is_veth()) {
            if seen.contains(&(x, d.ifindex)) {
                continue;
            }
            let Some(peer_ifindex) = d.link_index else {
                // A veth in this namespace: iproute2 names the peer.
                if let Some(p) = &d.link
                    && let Some(pd) = list.iter().find(|e| &e.ifname == p)
                {
                    seen.insert((x, d.ifindex));
                    seen.insert((x, pd.ifindex));
                    pairs.push(((x, d.ifname.clone()), (x, pd.ifname.clone())));
                }
                continue;
            };
            let target: Option<usize> = match d.link_netnsid {
                // The peer is in this namespace.
                None => Some(x),
                Some(id) => match ids[x].iter().find(|n| n.nsid == id) {
                    Some(JNsid {
                        name: Some(name), ..
                    }) => match by_name.get(name.as_str()) {
                        Some(&y) => Some(y),
                        None => {
                            notes.push(format!(
                                "{}/{}: its peer is in namespace {name}, which is not dumped",
                                found[x].name, d.ifname
                            ));
                            seen.insert((x, d.ifindex));
                            continue;
                        }
                    },
                    // An unnamed namespace: the one whose veth points back.
                    _ => {
                        let c: Vec<usize> = (0..found.len())
                            .filter(|&y| y != x && !matches!(found[y].at, NsRef::Named(_)))
                            .filter(|&y| {
                                devs[y].iter().any(|e| {
                                    e.is_veth()
                                        && e.ifindex == peer_ifindex
                                        && e.link_index == Some(d.ifindex)
                                        && e.link_netnsid.is_some()
                                })
                            })
                            .collect();
                        match c.as_slice() {
                            [y] => Some(*y),
                            [] => None,
                            _ => {
                                notes.push(format!(
                                    "{}/{}: its peer (ifindex {peer_ifindex}) could be in {}; left out",
                                    found[x].name,
                                    d.ifname,
                                    c.iter()
                                        .map(|&y| found[y].name.as_str())
                                        .collect::<Vec<_>>()
                                        .join(" or ")
                                ));
                                seen.insert((x, d.ifindex));
                                continue;
                            }
                        }
                    }
                },
            };
            let peer = target.and_then(|y| {
                devs[y]
                    .iter()
                    .find(|e| e.ifindex == peer_ifindex)
                    .map(|e| (y, e))
            });
            seen.insert((x, d.ifindex));
            match peer {
                Some((y, e)) => {
                    seen.insert((y, e.ifindex));
                    pairs.push(((x, d.ifname.clone()), (y, e.ifname.clone())));
                }
                None => notes.push(format!(
                    "{}/{}: its peer (ifindex {peer_ifindex}) is in no dumped namespace",
                    found[x].name, d.ifname
                )),
            }
        }
    }
    (pairs, notes)
}

/// Writes a topology of this machine into `dir` (module documentation).
/// With `only` (`NAME` or `NAME=AS`, where NAME is a namespace's name as
/// found: `host`, a named namespace, a container's name or `pid-N`), only
/// those namespaces are dumped, as `AS` when given, and links leaving them
/// are left out (each said in the notes).
pub fn topo_dump(dir: &Path, only: &[String]) -> Result<TopoDump, HostError> {
    let mut found = discover();
    if !only.is_empty() {
        let mut picked = Vec::new();
        for spec in only {
            let (name, alias) = match spec.split_once('=') {
                Some((n, a)) => (n, a),
                None => (spec.as_str(), spec.as_str()),
            };
            let Some(f) = found.iter().find(|f| f.name == name) else {
                return Err(HostError::Topology {
                    file: PathBuf::from("--netns"),
                    line: 0,
                    msg: format!(
                        "no namespace {name:?} on this machine (found: {})",
                        found
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            };
            if alias.is_empty() || alias.contains('/') {
                return Err(HostError::Topology {
                    file: PathBuf::from("--netns"),
                    line: 0,
                    msg: format!("bad name {alias:?} for {name} (a name has no '/')"),
                });
            }
            let mut f = f.clone();
            f.name = alias.to_string();
            if picked.iter().any(|p: &FoundNs| p.name == f.name) {
                return Err(HostError::Topology {
                    file: PathBuf::from("--netns"),
                    line: 0,
                    msg: format!("two namespaces would be named {alias:?}"),
                });
            }
            picked.push(f);
        }
        found = picked;
    }
    std::fs::create_dir_all(dir).map_err(|e| HostError::Io {
        file: dir.to_path_buf(),
        source: e,
    })?;
    // Every namespace's links first: listing them allocates the ids that
    // `netns list-id` then shows.
    let mut devs = Vec::new();
    for f in &found {
        let sub = dir.join(&f.name);
        std::fs::create_dir_all(&sub).map_err(|e| HostError::Io {
            file: sub.clone(),
            source: e,
        })?;
        let file = sub.join(LINK_FILE);
        let (list, raw): (Vec<JLinkDev>, _) =
            run_json(&file, &["ip", "-d", "-j", "link", "show"], &f.at)?;
        write(&file, &raw)?;
        devs.push(list);
    }
    let mut ids = Vec::new();
    for f in &found {
        let file = dir.join(&f.name).join(LINK_FILE);
        let (list, _): (Vec<JNsid>, _) = run_json(&file, &["ip", "-j", "netns", "list-id"], &f.at)?;
        ids.push(list);
    }
    for f in &found {
        dump_at(&dir.join(&f.name), &f.at)?;
    }
    let (pairs, notes) = veth_pairs(&found, &devs, &ids);
    let links: Vec<(String, String)> = pairs
        .into_iter()
        .map(|((x, a), (y, b))| {
            (
                format!("{}/{a}", found[x].name),
                format!("{}/{b}", found[y].name),
            )
        })
        .collect();
    let mut comment =
        String::from("Written by `fwdsim topo dump`: the veth pairs between these namespaces.");
    for f in &found {
        comment.push_str(&format!("\n{}: {}", f.name, f.what));
    }
    let file = dir.join(TOPOLOGY_FILE);
    write(&file, topology_toml(&comment, &links).as_bytes())?;
    Ok(TopoDump {
        namespaces: found,
        links,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(ifindex: u32, name: &str, peer: Option<u32>, nsid: Option<i64>) -> JLinkDev {
        JLinkDev {
            ifindex,
            ifname: name.into(),
            link_index: peer,
            link: None,
            link_netnsid: nsid,
            linkinfo: Some(JLinkInfo {
                info_kind: Some("veth".into()),
            }),
        }
    }

    fn ns(name: &str, at: NsRef) -> FoundNs {
        FoundNs {
            name: name.into(),
            at,
            what: String::new(),
        }
    }

    #[test]
    fn pairs_are_found_by_name_and_by_pointing_back() {
        let found = [
            ns("host", NsRef::Current),
            ns("r1", NsRef::Named("r1".into())),
            ns("web", NsRef::Pid(40)),
        ];
        // host/veth9 (ifindex 9) <-> web/eth0 (ifindex 2): no names either way.
        // host/v1 (ifindex 5) <-> r1/eth0 (ifindex 2): host names r1 as nsid 1.
        let devs = vec![
            vec![
                dev(9, "veth9", Some(2), Some(0)),
                dev(5, "v1", Some(2), Some(1)),
            ],
            vec![dev(2, "eth0", Some(5), Some(0))],
            vec![dev(2, "eth0", Some(9), Some(0))],
        ];
        let ids = vec![
            vec![
                JNsid {
                    nsid: 0,
                    name: None,
                },
                JNsid {
                    nsid: 1,
                    name: Some("r1".into()),
                },
            ],
            vec![JNsid {
                nsid: 0,
                name: None,
            }],
            vec![JNsid {
                nsid: 0,
                name: None,
            }],
        ];
        let (pairs, notes) = veth_pairs(&found, &devs, &ids);
        assert_eq!(
            pairs,
            [
                ((0, "veth9".to_string()), (2, "eth0".to_string())),
                ((0, "v1".to_string()), (1, "eth0".to_string())),
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_peer_outside_is_a_note() {
        let found = [ns("a", NsRef::Named("a".into()))];
        let devs = vec![vec![dev(3, "eth0", Some(7), Some(0))]];
        let ids = vec![vec![JNsid {
            nsid: 0,
            name: Some("other".into()),
        }]];
        let (pairs, notes) = veth_pairs(&found, &devs, &ids);
        assert!(pairs.is_empty());
        assert_eq!(
            notes,
            ["a/eth0: its peer is in namespace other, which is not dumped"]
        );
    }
}
