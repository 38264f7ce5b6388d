//! Loads a topology (docs/topology.md; interfaces.md section 5): several
//! network namespaces, each a host as `--host` takes it, and the links
//! between their devices.
//!
//! Two forms, one format:
//!
//! - a **directory** (what `fwdsim topo dump` writes): one snapshot
//!   directory per namespace, named after it (`host` for the root
//!   namespace), optionally `NAME.toml` TOML hosts, and `topology.toml`
//!   with the `[[link]]` tables (and optionally `[namespace.NAME]` entries);
//! - a **TOML file** written by hand: `[namespace.NAME]` tables, each either
//!   `path = "..."` (a snapshot directory or a TOML host, relative to the
//!   file) or a TOML host written inline under that table
//!   (`[[namespace.NAME.interface]]`, `[namespace.NAME.sysctl]`, ...), and
//!   the `[[link]]` tables.
//!
//! Loading only loads each host and checks that every link names devices
//! that exist; what joins the namespaces is the topology engine's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fwdsim_kernel::{IfIndex, Netns};
use serde::Deserialize;

use crate::error::HostError;
use crate::snapshot::read;

/// The file of a topology directory that names the links.
pub const TOPOLOGY_FILE: &str = "topology.toml";

/// One namespace of a loaded topology.
pub struct TopoNs {
    /// Its name (`host` for the root namespace).
    pub name: String,
    /// The loaded host.
    pub netns: Netns,
    /// Where it was loaded from (a snapshot directory, a TOML host, or the
    /// topology file for an inline host).
    pub source: PathBuf,
    /// The non-fatal notes of loading it.
    pub notes: Vec<String>,
}

/// One end of a link: a device of a namespace of the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkEnd {
    /// The index of the namespace in [`Topology::namespaces`].
    pub ns: usize,
    /// The device's ifindex in that namespace.
    pub dev: IfIndex,
}

/// A link: a veth pair (or any point-to-point cable) between two devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopoLink {
    /// The `a` end.
    pub a: LinkEnd,
    /// The `b` end.
    pub b: LinkEnd,
    /// The line of its `[[link]]` table in [`Topology::file`].
    pub line: usize,
}

/// What a topology engine is built from: the namespaces by name, and the
/// links as pairs of ends.
pub type TopologyParts = (Vec<(String, Netns)>, Vec<(LinkEnd, LinkEnd)>);

/// A loaded topology.
pub struct Topology {
    /// The namespaces, sorted by name.
    pub namespaces: Vec<TopoNs>,
    /// The links, in file order.
    pub links: Vec<TopoLink>,
    /// The file that names the links (`DIR/topology.toml`, or the TOML topology).
    pub file: PathBuf,
}

impl Topology {
    /// The index of the namespace named `name`.
    pub fn ns_index(&self, name: &str) -> Option<usize> {
        self.namespaces.iter().position(|n| n.name == name)
    }

    /// `NS/DEV` for a link end.
    pub fn end_name(&self, end: LinkEnd) -> String {
        let ns = &self.namespaces[end.ns];
        let dev = ns
            .netns
            .dev(end.dev)
            .map_or_else(|| format!("if{}", end.dev.0), |d| d.name.clone());
        format!("{}/{dev}", ns.name)
    }

    /// The other end of the link `end` is on, if it is on one.
    pub fn peer(&self, end: LinkEnd) -> Option<LinkEnd> {
        self.links.iter().find_map(|l| {
            if l.a == end {
                Some(l.b)
            } else if l.b == end {
                Some(l.a)
            } else {
                None
            }
        })
    }

    /// Resolves `NS` or `NS/DEV` (as `--at` and `--from` take them).
    pub fn resolve(&self, spec: &str) -> Result<(usize, Option<IfIndex>), String> {
        let (ns, dev) = match spec.split_once('/') {
            Some((n, d)) => (n, Some(d)),
            None => (spec, None),
        };
        let i = self.ns_index(ns).ok_or_else(|| {
            format!(
                "no namespace {ns:?} in the topology (its namespaces: {})",
                self.names().join(", ")
            )
        })?;
        let dev = match dev {
            None => None,
            Some(d) => Some(
                self.namespaces[i]
                    .netns
                    .dev_by_name(d)
                    .map(|x| x.ifindex)
                    .ok_or_else(|| {
                        format!(
                            "no device {d:?} in namespace {ns} (its devices: {})",
                            dev_names(&self.namespaces[i].netns).join(", ")
                        )
                    })?,
            ),
        };
        Ok((i, dev))
    }

    /// The namespace names, in order.
    pub fn names(&self) -> Vec<String> {
        self.namespaces.iter().map(|n| n.name.clone()).collect()
    }

    /// The parts a topology engine is built from: the namespaces by name
    /// and the links as pairs of ends.
    pub fn into_parts(self) -> TopologyParts {
        let links = self.links.iter().map(|l| (l.a, l.b)).collect();
        let ns = self
            .namespaces
            .into_iter()
            .map(|n| (n.name, n.netns))
            .collect();
        (ns, links)
    }
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let links: Vec<String> = self
            .links
            .iter()
            .map(|l| format!("{} <-> {}", self.end_name(l.a), self.end_name(l.b)))
            .collect();
        f.debug_struct("Topology")
            .field("namespaces", &self.names())
            .field("links", &links)
            .field("file", &self.file)
            .finish()
    }
}

fn dev_names(ns: &Netns) -> Vec<String> {
    ns.devices.iter().map(|d| d.name.clone()).collect()
}

/// The topology file: `[namespace.NAME]` entries and `[[link]]` tables.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct TopoToml {
    #[serde(default)]
    namespace: BTreeMap<String, toml::Spanned<toml::Table>>,
    #[serde(default)]
    link: Vec<LinkToml>,
    #[serde(default)]
    bridge: Vec<BridgeToml>,
}

/// One `[[bridge]]`: a device of a namespace made a bridge, with its ports
/// (for hosts written in TOML, whose interfaces are plain Ethernet
/// devices; a snapshot says it in link.json or addr.json).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct BridgeToml {
    dev: toml::Spanned<String>,
    #[serde(default)]
    ports: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LinkToml {
    a: toml::Spanned<String>,
    b: toml::Spanned<String>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn topo_err(file: &Path, line: usize, msg: impl Into<String>) -> HostError {
    HostError::Topology {
        file: file.to_path_buf(),
        line,
        msg: msg.into(),
    }
}

/// Loads a topology: a directory (with `topology.toml`) or a TOML file.
pub fn load_topology(path: &Path) -> Result<Topology, HostError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => load_dir(path),
        Ok(_) => {
            let text = read(path)?;
            let base = path.parent().unwrap_or(Path::new("."));
            load_topology_str(&text, path, base, Vec::new())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(HostError::NotFound {
            file: path.to_path_buf(),
        }),
        Err(e) => Err(HostError::Io {
            file: path.to_path_buf(),
            source: e,
        }),
    }
}

fn load_dir(dir: &Path) -> Result<Topology, HostError> {
    let file = dir.join(TOPOLOGY_FILE);
    if !file.exists() {
        let hint = if dir.join("addr.json").exists() {
            " (this directory is one host's snapshot: give it with --host, or make a topology of it with `fwdsim topo dump`)"
        } else {
            " (a topology directory holds one snapshot directory per namespace and topology.toml naming the links)"
        };
        return Err(topo_err(&file, 0, format!("missing{hint}")));
    }
    let text = read(&file)?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| HostError::Io {
            file: dir.to_path_buf(),
            source: e,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut found = Vec::new();
    for p in entries {
        let Some(fname) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if p.is_dir() && p.join("addr.json").exists() {
            found.push((fname.to_string(), p.clone()));
        } else if p.is_file()
            && fname != TOPOLOGY_FILE
            && let Some(stem) = fname.strip_suffix(".toml")
        {
            found.push((stem.to_string(), p.clone()));
        }
    }
    load_topology_str(&text, &file, dir, found)
}

/// Loads a topology from the text of its TOML file; `file` names it in
/// errors, `base` is the directory its paths are relative to, and
/// `implicit` are the namespaces found beside it (a topology directory's
/// snapshot directories), as (name, path).
pub fn load_topology_str(
    text: &str,
    file: &Path,
    base: &Path,
    implicit: Vec<(String, PathBuf)>,
) -> Result<Topology, HostError> {
    let t: TopoToml = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        topo_err(
            file,
            line,
            e.message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let mut namespaces: Vec<TopoNs> = Vec::new();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for (name, path) in implicit {
        let (netns, notes) = load_ns(&path)?;
        origin.insert(name.clone(), path.display().to_string());
        namespaces.push(TopoNs {
            name,
            netns,
            source: path,
            notes,
        });
    }
    for (name, table) in &t.namespace {
        let line = line_of(text, table.span().start);
        check_ns_name(file, line, name)?;
        if let Some(prev) = origin.get(name) {
            return Err(topo_err(
                file,
                line,
                format!("namespace {name:?} is given twice (also by {prev})"),
            ));
        }
        let tbl = table.get_ref();
        let (netns, notes, source) = match tbl.get("path") {
            Some(p) => {
                let Some(p) = p.as_str() else {
                    return Err(topo_err(
                        file,
                        line,
                        format!("namespace {name:?}: path must be a string"),
                    ));
                };
                if let Some(k) = tbl.keys().find(|k| *k != "path") {
                    return Err(topo_err(
                        file,
                        line,
                        format!(
                            "namespace {name:?}: {k:?} beside path (a namespace is either path = \"...\" or a TOML host written inline)"
                        ),
                    ));
                }
                let path = base.join(p);
                let (ns, notes) = load_ns(&path)?;
                (ns, notes, path)
            }
            None => {
                let host = inline_text(text, file, name)?;
                let (ns, notes) = crate::load_toml_str_with_notes(&host, file)?;
                (ns, notes, file.to_path_buf())
            }
        };
        origin.insert(name.clone(), format!("{}:{line}", file.display()));
        namespaces.push(TopoNs {
            name: name.clone(),
            netns,
            source,
            notes,
        });
    }
    namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    let mut topo = Topology {
        namespaces,
        links: Vec::new(),
        file: file.to_path_buf(),
    };
    let mut used: BTreeMap<LinkEnd, usize> = BTreeMap::new();
    for l in &t.link {
        let line = line_of(text, l.a.span().start);
        let a = end(&topo, file, line, l.a.get_ref())?;
        let b = end(&topo, file, line_of(text, l.b.span().start), l.b.get_ref())?;
        if a == b {
            return Err(topo_err(
                file,
                line,
                format!("link {:?} joins a device to itself", l.a.get_ref()),
            ));
        }
        for (e, s) in [(a, l.a.get_ref()), (b, l.b.get_ref())] {
            if let Some(prev) = used.insert(e, line) {
                return Err(topo_err(
                    file,
                    line,
                    format!(
                        "{s:?} is already an end of the link at line {prev} (a device is on one link at most)"
                    ),
                ));
            }
        }
        topo.links.push(TopoLink { a, b, line });
    }
    for br in &t.bridge {
        let line = line_of(text, br.dev.span().start);
        let e = end(&topo, file, line, br.dev.get_ref())?;
        let ns = &mut topo.namespaces[e.ns].netns;
        if let Some(d) = ns.dev_mut(e.dev)
            && d.bridge().is_none()
        {
            d.kind = fwdsim_kernel::netns::DevKind::Bridge(Box::default());
        }
        for p in &br.ports {
            let Some(port) = ns.dev_by_name(p).map(|d| d.ifindex) else {
                return Err(topo_err(
                    file,
                    line,
                    format!(
                        "bridge {:?}: no port {p} in its namespace (its devices: {})",
                        br.dev.get_ref(),
                        dev_names(ns).join(", ")
                    ),
                ));
            };
            if port == e.dev {
                return Err(topo_err(
                    file,
                    line,
                    format!(
                        "bridge {:?}: a bridge is not its own port",
                        br.dev.get_ref()
                    ),
                ));
            }
            ns.br_add_if(e.dev, port).map_err(|err| {
                topo_err(file, line, format!("bridge {:?}: {err}", br.dev.get_ref()))
            })?;
        }
    }
    // A TOML host's interfaces are Ethernet devices: those on a link are
    // veths (what they send, the far end receives).
    for l in &topo.links {
        for e in [l.a, l.b] {
            if let Some(d) = topo.namespaces[e.ns].netns.dev_mut(e.dev)
                && matches!(d.kind, fwdsim_kernel::netns::DevKind::Ether)
            {
                d.kind = fwdsim_kernel::netns::DevKind::Veth { peer: None };
            }
        }
    }
    Ok(topo)
}

/// Loads one namespace: a host, with the device kinds and bridge ports of
/// a snapshot directory ([`crate::apply_link_details`]).
fn load_ns(path: &Path) -> Result<(Netns, Vec<String>), HostError> {
    let (mut ns, notes) = crate::load_host_with_notes(path)?;
    if path.is_dir() {
        crate::apply_link_details(&mut ns, path)?;
    }
    Ok((ns, notes))
}

fn check_ns_name(file: &Path, line: usize, name: &str) -> Result<(), HostError> {
    if name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace) {
        return Err(topo_err(
            file,
            line,
            format!("bad namespace name {name:?} (a name has no '/' and no spaces)"),
        ));
    }
    Ok(())
}

fn end(topo: &Topology, file: &Path, line: usize, s: &str) -> Result<LinkEnd, HostError> {
    let Some((ns, dev)) = s.split_once('/') else {
        return Err(topo_err(
            file,
            line,
            format!("link end {s:?} is not NAMESPACE/DEVICE (e.g. \"host/veth1a2b3c4\")"),
        ));
    };
    let Some(i) = topo.ns_index(ns) else {
        return Err(topo_err(
            file,
            line,
            format!(
                "link end {s:?}: no namespace {ns} (the namespaces are: {})",
                topo.names().join(", ")
            ),
        ));
    };
    let Some(d) = topo.namespaces[i].netns.dev_by_name(dev) else {
        return Err(topo_err(
            file,
            line,
            format!(
                "link end {s:?}: no device {dev} in namespace {ns} (its devices: {})",
                dev_names(&topo.namespaces[i].netns).join(", ")
            ),
        ));
    };
    Ok(LinkEnd {
        ns: i,
        dev: d.ifindex,
    })
}

/// A table header line: its key path and whether it is `[[...]]`.
fn header(line: &str) -> Option<(Vec<String>, bool)> {
    let t = line.trim_start();
    let (inner, array) = if let Some(r) = t.strip_prefix("[[") {
        (r.split_once("]]")?.0, true)
    } else if let Some(r) = t.strip_prefix('[') {
        (r.split_once(']')?.0, false)
    } else {
        return None;
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '.') => parts.push(std::mem::take(&mut cur).trim().to_string()),
            (_, c) => cur.push(c),
        }
    }
    parts.push(cur.trim().to_string());
    Some((parts, array))
}

/// The TOML host of namespace `name` written inline: the file's lines with
/// every line outside `name`'s tables blanked and `[namespace.NAME.X]`
/// headers shortened to `[X]`, so that line numbers stay the file's.
fn inline_text(text: &str, file: &Path, name: &str) -> Result<String, HostError> {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    let mut sub_seen = false;
    let mut root_seen = false;
    let mut in_string: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let h = if in_string.is_none() {
            header(line)
        } else {
            None
        };
        let mut emit = String::new();
        match h {
            Some((path, array)) => {
                if path.len() >= 2 && path[0] == "namespace" && path[1] == name {
                    inside = true;
                    if path.len() == 2 {
                        if sub_seen {
                            return Err(topo_err(
                                file,
                                i + 1,
                                format!("write [namespace.{name}] before its sub-tables"),
                            ));
                        }
                        root_seen = true;
                    } else {
                        sub_seen = true;
                        let key = path[2..]
                            .iter()
                            .map(|p| format!("\"{}\"", p.replace('"', "\\\"")))
                            .collect::<Vec<_>>()
                            .join(".");
                        emit = if array {
                            format!("[[{key}]]")
                        } else {
                            format!("[{key}]")
                        };
                    }
                } else {
                    inside = false;
                }
            }
            None => {
                if inside {
                    emit = line.to_string();
                }
                for delim in ["\"\"\"", "'''"] {
                    let n = line.matches(delim).count();
                    if n % 2 == 1 {
                        in_string = match in_string {
                            Some(d) if d == delim => None,
                            None => Some(delim),
                            other => other,
                        };
                    }
                }
            }
        }
        out.push_str(&emit);
        out.push('\n');
    }
    if !root_seen && !sub_seen {
        return Err(topo_err(
            file,
            0,
            format!(
                "namespace {name:?}: write its host under a [namespace.{name}] table, or give path = \"...\""
            ),
        ));
    }
    Ok(out)
}

/// The text of a `topology.toml` naming `links` (pairs of `NS/DEV`), with
/// a comment at the top (one line or several; `#` is added).
pub fn topology_toml(comment: &str, links: &[(String, String)]) -> String {
    let mut s = String::new();
    for l in comment.lines() {
        s.push_str("# ");
        s.push_str(l);
        s.push('\n');
    }
    for (a, b) in links {
        s.push_str(&format!("\n[[link]]\na = {a:?}\nb = {b:?}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPO: &str = r#"# two namespaces and a cable
[namespace.ctr]
routes = ["default via 172.17.0.1 dev eth0"]

[[namespace.ctr.interface]]
name = "eth0"
addresses = ["172.17.0.2/16"]

[namespace.host]

[[namespace.host.interface]]
name = "veth0"
mtu = 1500

[namespace.host.sysctl]
"net.ipv4.ip_forward" = 1

[[link]]
a = "host/veth0"
b = "ctr/eth0"
"#;

    fn load(text: &str) -> Result<Topology, HostError> {
        load_topology_str(text, Path::new("t.toml"), Path::new("."), Vec::new())
    }

    #[test]
    fn inline_hosts_and_a_link() {
        let t = load(TOPO).unwrap();
        assert_eq!(t.names(), ["ctr", "host"]);
        assert_eq!(t.links.len(), 1);
        let l = t.links[0];
        assert_eq!(t.end_name(l.a), "host/veth0");
        assert_eq!(t.end_name(l.b), "ctr/eth0");
        assert_eq!(l.line, 19);
        assert_eq!(t.peer(l.b), Some(l.a));
        let host = &t.namespaces[t.ns_index("host").unwrap()].netns;
        assert!(host.dev_by_name("veth0").is_some());
        assert_eq!(t.resolve("ctr/eth0").unwrap().0, 0);
        assert!(
            t.resolve("ctr/eth7")
                .unwrap_err()
                .contains("its devices: lo, eth0")
        );
    }

    #[test]
    fn a_bridge_of_a_toml_host_gets_its_ports() {
        let text = TOPO.replace(
            "[[link]]",
            "[[namespace.host.interface]]\nname = \"docker0\"\naddresses = [\"172.17.0.1/16\"]\n\n[[bridge]]\ndev = \"host/docker0\"\nports = [\"veth0\"]\n\n[[link]]",
        );
        let t = load(&text).unwrap();
        let host = &t.namespaces[t.ns_index("host").unwrap()].netns;
        let br = host.dev_by_name("docker0").unwrap();
        assert!(br.bridge().is_some());
        assert_eq!(host.dev_by_name("veth0").unwrap().master, Some(br.ifindex));
        let bad = text.replace("ports = [\"veth0\"]", "ports = [\"veth9\"]");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("bridge \"host/docker0\": no port veth9"), "{e}");
    }

    #[test]
    fn errors_name_the_line() {
        let bad = TOPO.replace("b = \"ctr/eth0\"", "b = \"ctr/eth9\"");
        let e = load(&bad).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.toml:20: link end \"ctr/eth9\": no device eth9 in namespace ctr (its devices: lo, eth0)"
        );
        let bad = TOPO.replace("b = \"ctr/eth0\"", "b = \"box/eth0\"");
        let e = load(&bad).unwrap_err().to_string();
        assert!(
            e.starts_with("t.toml:20: link end \"box/eth0\": no namespace box"),
            "{e}"
        );
        let bad = TOPO.replace("b = \"ctr/eth0\"", "b = \"eth0\"");
        assert!(
            load(&bad)
                .unwrap_err()
                .to_string()
                .contains("is not NAMESPACE/DEVICE")
        );
        let bad = format!("{TOPO}\n[[link]]\na = \"ctr/eth0\"\nb = \"host/lo\"\n");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.starts_with("t.toml:23:"), "{e}");
        assert!(e.contains("already an end of the link at line 19"), "{e}");
    }

    #[test]
    fn an_inline_host_error_has_the_files_line() {
        let bad = TOPO.replace("mtu = 1500", "mtu = \"big\"");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.starts_with("t.toml:13:"), "{e}");
    }

    #[test]
    fn path_namespaces_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("r1.toml"),
            "[[interface]]\nname = \"eth0\"\naddresses = [\"10.0.0.1/24\"]\n",
        )
        .unwrap();
        let topo = "[namespace.r1]\npath = \"r1.toml\"\n\n[namespace.r2]\npath = \"r1.toml\"\n\n[[link]]\na = \"r1/eth0\"\nb = \"r2/eth0\"\n";
        let f = dir.path().join("topo.toml");
        std::fs::write(&f, topo).unwrap();
        let t = load_topology(&f).unwrap();
        assert_eq!(t.names(), ["r1", "r2"]);
        assert_eq!(t.links.len(), 1);
        let bad = topo.replace(
            "path = \"r1.toml\"\n\n[namespace.r2]",
            "path = \"r1.toml\"\nmtu = 3\n\n[namespace.r2]",
        );
        std::fs::write(&f, bad).unwrap();
        let e = load_topology(&f).err().unwrap().to_string();
        assert!(e.contains("\"mtu\" beside path"), "{e}");
    }

    #[test]
    fn a_directory_without_topology_toml_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("addr.json"), "[]").unwrap();
        let e = load_topology(dir.path()).err().unwrap().to_string();
        assert!(e.contains("one host's snapshot"), "{e}");
    }

    #[test]
    fn written_links_load_back() {
        let text = topology_toml("made by hand", &[("host/veth0".into(), "ctr/eth0".into())]);
        let t = load(&format!(
            "{text}\n{}",
            TOPO.split("[[link]]").next().unwrap()
        ))
        .unwrap();
        assert_eq!(t.links.len(), 1);
    }
}
