//! `fwdsim sysctl get|set` on a host file: read the values a loaded host
//! has, and change a host file as `sysctl -w KEY=VALUE` would change the
//! live host, propagation included.
//!
//! - A snapshot's `sysctl.txt` holds every value as read, so `set` rewrites
//!   each line whose value the write changed and appends keys it lacks.
//! - A TOML host is a list of writes replayed in order, so `set` writes the
//!   key where the file already sets it (an interface's `sysctl` table for
//!   `net.ipv4.conf.DEV.KEY` when that table has KEY, else the top-level
//!   `[sysctl]` table), reloads the file and keeps the edit only when the
//!   reloaded host equals the live one after the write.

use std::path::{Path, PathBuf};

use fwdsim_kernel::Netns;
use fwdsim_kernel::ipv4::devinet::DevconfKey;
use fwdsim_kernel::sysctl::NetSysctl;

use crate::error::HostError;
use crate::sysctl::write_sysctl;

/// Every modelled sysctl of `ns` and its value: `net.ipv4.ip_forward`, the
/// namespace-wide keys, then `conf.all`, `conf.default` and each device
/// with IPv4 state (a `.` in a device name written `/`, as `sysctl` does).
pub fn sysctl_values(ns: &Netns) -> Vec<(String, i64)> {
    let mut keys: Vec<String> = vec!["net.ipv4.ip_forward".into()];
    keys.extend(NetSysctl::NAMES.iter().map(|k| k.to_string()));
    let mut targets = vec!["all".to_string(), "default".to_string()];
    targets.extend(
        ns.devices
            .iter()
            .filter(|d| d.ip_ptr.is_some())
            .map(|d| d.name.replace('.', "/")),
    );
    for t in &targets {
        for k in DevconfKey::ALL {
            keys.push(format!("net.ipv4.conf.{t}.{}", k.sysctl_name()));
        }
    }
    keys.into_iter()
        .filter_map(|k| ns.sysctl_get(&k).ok().map(|v| (k, v)))
        .collect()
}

/// The values of `key` on a loaded host: the key itself, or every modelled
/// key under it when it names a subtree (`net.ipv4.conf.eth0`), as
/// `sysctl` lists a directory. `file` names the host in errors.
pub fn sysctl_get(ns: &Netns, file: &Path, key: &str) -> Result<Vec<(String, i64)>, HostError> {
    let norm = crate::sysctl_origin::normalize(key);
    if let Ok(v) = ns.sysctl_get(&norm) {
        return Ok(vec![(norm, v)]);
    }
    let prefix = format!("{norm}.");
    let under: Vec<_> = sysctl_values(ns)
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    if under.is_empty() {
        return Err(unknown(file, key));
    }
    Ok(under)
}

fn unknown(file: &Path, key: &str) -> HostError {
    match crate::sysctl_origin::linux_name_for(key) {
        Some(linux) => HostError::BadSysctl {
            file: file.to_path_buf(),
            msg: format!("{key} is a BSD/macOS name; on Linux it is {linux}"),
        },
        None => HostError::UnknownSysctl {
            file: file.to_path_buf(),
            key: key.to_string(),
        },
    }
}

/// One value that `set` changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysctlChange {
    /// The full key.
    pub key: String,
    /// Its value before.
    pub old: i64,
    /// Its value after.
    pub new: i64,
}

/// Parses `KEY=VALUE` (spaces around `=` allowed) into a normalized key and
/// an integer; `file` names the argument in errors.
pub fn parse_assignment(file: &Path, kv: &str) -> Result<(String, i64), HostError> {
    let bad = |msg: String| HostError::BadSysctl {
        file: file.to_path_buf(),
        msg,
    };
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| bad(format!("{kv:?} is not KEY=VALUE")))?;
    let (k, v) = (k.trim(), v.trim());
    let v: i64 = v
        .parse()
        .map_err(|_| bad(format!("{k}: value {v:?} is not an integer")))?;
    Ok((crate::sysctl_origin::normalize(k), v))
}

/// Applies `assignments` to the host at `path` (a snapshot directory or a
/// TOML file) as `sysctl -w` would, in order, and writes the result back.
/// Returns every value that changed, the ones changed by propagation too.
/// Nothing is written when an assignment is invalid or the TOML file cannot
/// express the result.
pub fn sysctl_set(
    path: &Path,
    assignments: &[(String, i64)],
) -> Result<Vec<SysctlChange>, HostError> {
    let ns = crate::load_host(path)?;
    let before = sysctl_values(&ns);
    let mut after_ns = ns.clone();
    for (k, v) in assignments {
        if after_ns.sysctl_get(k).is_err() {
            return Err(unknown(path, k));
        }
        write_sysctl(&mut after_ns, path, k, *v)?;
    }
    let after = sysctl_values(&after_ns);
    let changes: Vec<SysctlChange> = before
        .iter()
        .zip(&after)
        .filter(|((_, o), (_, n))| o != n)
        .map(|((k, o), (_, n))| SysctlChange {
            key: k.clone(),
            old: *o,
            new: *n,
        })
        .collect();
    if path.is_dir() {
        set_snapshot(path, assignments, &after)?;
    } else {
        set_toml(path, assignments, &after)?;
    }
    Ok(changes)
}

fn io(file: &Path) -> impl FnOnce(std::io::Error) -> HostError + '_ {
    move |source| HostError::Io {
        file: file.to_path_buf(),
        source,
    }
}

/// Rewrites `sysctl.txt` to the values of `after`, line by line.
fn set_snapshot(
    dir: &Path,
    assignments: &[(String, i64)],
    after: &[(String, i64)],
) -> Result<(), HostError> {
    let file: PathBuf = dir.join("sysctl.txt");
    let text = std::fs::read_to_string(&file).map_err(io(&file))?;
    let value_of = |k: &str| after.iter().find(|(a, _)| a == k).map(|(_, v)| *v);
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let parsed = line
            .split_once('=')
            .filter(|_| !line.trim_start().starts_with(['#', ';']))
            .map(|(k, v)| (crate::sysctl_origin::normalize(k.trim()), v.trim()));
        match parsed.and_then(|(k, v)| value_of(&k).map(|n| (k, v, n))) {
            Some((k, v, n)) if !v.contains(char::is_whitespace) => {
                out.push_str(&format!("{k} = {n}\n"));
                seen.push(k);
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (k, _) in assignments {
        if !seen.contains(k)
            && let Some(n) = value_of(k)
        {
            out.push_str(&format!("{k} = {n}\n"));
            seen.push(k.clone());
        }
    }
    std::fs::write(&file, out).map_err(io(&file))
}

/// Writes each assignment into the TOML file where it already appears (else
/// the top-level `[sysctl]` table), then checks the file by reloading it.
fn set_toml(
    file: &Path,
    assignments: &[(String, i64)],
    after: &[(String, i64)],
) -> Result<(), HostError> {
    let text = std::fs::read_to_string(file).map_err(io(file))?;
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| HostError::BadSysctl {
                file: file.to_path_buf(),
                msg: format!("not a TOML document: {}", e.message()),
            })?;
    for (k, v) in assignments {
        if !set_in_interface(&mut doc, k, *v) {
            set_in_top(&mut doc, file, k, *v)?;
        }
    }
    let edited = doc.to_string();
    let reloaded = crate::load_toml_str(&edited, file)?;
    if let Some((k, want)) = sysctl_values(&reloaded)
        .into_iter()
        .zip(after)
        .find(|((_, got), (_, want))| got != want)
        .map(|((k, _), (_, want))| (k, *want))
    {
        return Err(HostError::BadSysctl {
            file: file.to_path_buf(),
            msg: format!(
                "the file's order of sysctl writes would leave {k} at another value than {want}, which `sysctl -w` gives: edit the file by hand"
            ),
        });
    }
    std::fs::write(file, edited).map_err(io(file))
}

/// `net.ipv4.conf.DEV.KEY` where DEV's `[[interface]]` has a `sysctl`
/// table that sets KEY: that entry is rewritten.
fn set_in_interface(doc: &mut toml_edit::DocumentMut, key: &str, v: i64) -> bool {
    let Some(rest) = key.strip_prefix("net.ipv4.conf.") else {
        return false;
    };
    let Some((dev, name)) = rest.rsplit_once('.') else {
        return false;
    };
    let dev = dev.replace('/', ".");
    let Some(ifs) = doc
        .get_mut("interface")
        .and_then(|i| i.as_array_of_tables_mut())
    else {
        return false;
    };
    for t in ifs.iter_mut() {
        if t.get("name").and_then(|n| n.as_str()) != Some(dev.as_str()) {
            continue;
        }
        let Some(sys) = t.get_mut("sysctl").and_then(|s| s.as_table_like_mut()) else {
            return false;
        };
        if let Some(item) = sys.get_mut(name) {
            replace_keeping_decor(item, v);
            return true;
        }
        return false;
    }
    false
}

/// Sets an entry's value, keeping the spaces and comment around it.
fn replace_keeping_decor(item: &mut toml_edit::Item, v: i64) {
    match item.as_value_mut() {
        Some(val) => {
            let decor = val.decor().clone();
            *val = toml_edit::Value::from(v);
            *val.decor_mut() = decor;
        }
        None => *item = toml_edit::value(v),
    }
}

/// The top-level `[sysctl]` table: an entry whose key names the same sysctl
/// (`/` or `.` separators) is rewritten, else one is appended.
fn set_in_top(
    doc: &mut toml_edit::DocumentMut,
    file: &Path,
    key: &str,
    v: i64,
) -> Result<(), HostError> {
    if !doc.contains_key("sysctl") {
        doc.insert("sysctl", toml_edit::table());
    }
    let sys = doc
        .get_mut("sysctl")
        .and_then(|s| s.as_table_like_mut())
        .ok_or_else(|| HostError::BadSysctl {
            file: file.to_path_buf(),
            msg: "`sysctl` is not a table".into(),
        })?;
    let existing = sys
        .iter()
        .map(|(k, _)| k.to_string())
        .find(|k| crate::sysctl_origin::normalize(k) == key);
    match existing {
        Some(k) => {
            if let Some(item) = sys.get_mut(&k) {
                replace_keeping_decor(item, v);
            }
        }
        None => {
            sys.insert(key, toml_edit::value(v));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"# a host
routes = ["default via 10.0.2.2 dev eth0"]

[sysctl]
"net.ipv4.ip_forward" = 0 # cloud image

[[interface]]
name = "eth0"
addresses = ["10.0.2.15/24"]

[[interface]]
name = "docker0"
addresses = ["172.17.0.1/16"]
sysctl = { rp_filter = 2 }
"#;

    fn host(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("host.toml");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn set_ip_forward_in_a_toml_host_propagates_and_keeps_the_comment() {
        let (_d, p) = host(TOML);
        let ch = sysctl_set(&p, &[("net.ipv4.ip_forward".into(), 1)]).unwrap();
        let keys: Vec<&str> = ch.iter().map(|c| c.key.as_str()).collect();
        assert!(keys.contains(&"net.ipv4.ip_forward"), "{keys:?}");
        assert!(
            keys.contains(&"net.ipv4.conf.docker0.forwarding"),
            "{keys:?}"
        );
        assert!(
            keys.contains(&"net.ipv4.conf.all.accept_redirects"),
            "{keys:?}"
        );
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("\"net.ipv4.ip_forward\" = 1 # cloud image"),
            "{text}"
        );
        let ns = crate::load_host(&p).unwrap();
        assert_eq!(ns.sysctl_get("net.ipv4.conf.eth0.forwarding").unwrap(), 1);
    }

    #[test]
    fn set_a_device_key_rewrites_the_interface_table() {
        let (_d, p) = host(TOML);
        sysctl_set(&p, &[("net.ipv4.conf.docker0.rp_filter".into(), 0)]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("sysctl = { rp_filter = 0 }"), "{text}");
        let ns = crate::load_host(&p).unwrap();
        let got = sysctl_get(&ns, &p, "net.ipv4.conf.docker0.rp_filter").unwrap();
        assert_eq!(got, vec![("net.ipv4.conf.docker0.rp_filter".into(), 0)]);
    }

    #[test]
    fn a_write_the_file_order_cannot_express_is_refused_and_nothing_written() {
        // eth0's own table sets forwarding after the top-level writes, so a
        // top-level write of conf.eth0.accept_local is fine but a change of
        // ip_forward that must reach eth0.forwarding = 1 is overridden by
        // the table's 0.
        let text = TOML.replace(
            "addresses = [\"10.0.2.15/24\"]",
            "addresses = [\"10.0.2.15/24\"]\nsysctl = { forwarding = 0 }",
        );
        let (_d, p) = host(&text);
        let e = sysctl_set(&p, &[("net.ipv4.ip_forward".into(), 1)]).unwrap_err();
        assert!(
            e.to_string().contains("net.ipv4.conf.eth0.forwarding"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    }

    #[test]
    fn get_lists_a_subtree_and_names_bsd_keys() {
        let (_d, p) = host(TOML);
        let ns = crate::load_host(&p).unwrap();
        let all = sysctl_get(&ns, &p, "net.ipv4.conf.docker0").unwrap();
        assert_eq!(all.len(), DevconfKey::ALL.len());
        assert!(all.contains(&("net.ipv4.conf.docker0.rp_filter".into(), 2)));
        let e = sysctl_get(&ns, &p, "net.inet.ip.forwarding").unwrap_err();
        assert!(e.to_string().contains("net.ipv4.ip_forward"), "{e}");
        let e = sysctl_get(&ns, &p, "net.ipv4.nonsense").unwrap_err();
        assert!(e.to_string().contains("net.ipv4.nonsense"), "{e}");
    }

    #[test]
    fn set_in_a_snapshot_rewrites_sysctl_txt() {
        let d = tempfile::tempdir().unwrap();
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hosts/router-snapshot");
        for e in std::fs::read_dir(&src).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
        }
        let before = crate::load_host(d.path()).unwrap();
        let flip = 1 - before.sysctl_get("net.ipv4.ip_forward").unwrap();
        let ch = sysctl_set(d.path(), &[("net.ipv4.ip_forward".into(), flip)]).unwrap();
        assert!(ch.len() > 1, "{ch:?}");
        let after = crate::load_host(d.path()).unwrap();
        for c in &ch {
            assert_eq!(after.sysctl_get(&c.key).unwrap(), c.new, "{}", c.key);
        }
    }
}
