//! Where a sysctl's value at boot comes from: the configuration files that
//! `sysctl --system` (procps) and `systemd-sysctl` read, in their order.
//!
//! Files `*.conf` in /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d,
//! /usr/lib/sysctl.d and /lib/sysctl.d: a file name in an earlier directory
//! hides the same name in later ones; the survivors are applied sorted by
//! file name, whatever their directory; /etc/sysctl.conf comes last. Within
//! a file, later lines win. A key may use `/` separators, a leading `-`
//! (errors ignored) and globs (`net.ipv4.conf.*.rp_filter`).

use std::path::{Path, PathBuf};

/// The directories, highest priority first.
pub const SYSCTL_DIRS: &[&str] = &[
    "etc/sysctl.d",
    "run/sysctl.d",
    "usr/local/lib/sysctl.d",
    "usr/lib/sysctl.d",
    "lib/sysctl.d",
];

/// One assignment of the key in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The file, as a path under the root (`/etc/sysctl.conf`).
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
    /// The key as written (may be a glob or use `/`).
    pub written: String,
    /// The value.
    pub value: String,
}

/// Files hidden by a same-named file in a directory of higher priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masked {
    /// The hidden file.
    pub file: PathBuf,
    /// The file that hides it.
    pub by: PathBuf,
}

/// What the configuration files say about a key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// Every assignment, in the order they are applied at boot.
    pub assignments: Vec<Assignment>,
    /// Files that never run because a same-named file hides them.
    pub masked: Vec<Masked>,
}

impl Origin {
    /// The assignment that wins at boot (the last one applied).
    pub fn winner(&self) -> Option<&Assignment> {
        self.assignments.last()
    }
}

/// Normalizes a key as sysctl does: `/` separators become `.` (and a `.`
/// inside a `/`-separated name becomes `/`).
pub fn normalize(key: &str) -> String {
    if key.contains('/') {
        key.split('/')
            .map(|p| p.replace('.', "/"))
            .collect::<Vec<_>>()
            .join(".")
    } else {
        key.to_string()
    }
}

/// Whether a written key (maybe a glob of `*` and `?`) names `key`.
pub fn key_matches(written: &str, key: &str) -> bool {
    fn m(p: &[u8], k: &[u8]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], k) || (!k.is_empty() && m(p, &k[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &k[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &k[1..]),
            _ => false,
        }
    }
    m(normalize(written).as_bytes(), key.as_bytes())
}

/// The configuration files in the order they are applied, and the masked ones.
pub fn config_files(root: &Path) -> (Vec<PathBuf>, Vec<Masked>) {
    let mut chosen: Vec<(String, PathBuf)> = Vec::new();
    let mut masked = Vec::new();
    // A directory reached twice through a symlink (`/lib` -> `usr/lib`) is
    // read once: its files do not hide themselves.
    let mut seen: Vec<PathBuf> = Vec::new();
    for d in SYSCTL_DIRS {
        if let Ok(real) = std::fs::canonicalize(root.join(d)) {
            if seen.contains(&real) {
                continue;
            }
            seen.push(real);
        }
        let Ok(rd) = std::fs::read_dir(root.join(d)) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".conf"))
            .collect();
        names.sort();
        for n in names {
            let path = Path::new("/").join(d).join(&n);
            match chosen.iter().find(|(c, _)| *c == n) {
                Some((_, by)) => masked.push(Masked {
                    file: path,
                    by: by.clone(),
                }),
                None => chosen.push((n, path)),
            }
        }
    }
    chosen.sort_by(|a, b| a.0.cmp(&b.0));
    let mut files: Vec<PathBuf> = chosen.into_iter().map(|(_, p)| p).collect();
    if root.join("etc/sysctl.conf").is_file() {
        files.push(PathBuf::from("/etc/sysctl.conf"));
    }
    (files, masked)
}

/// Every assignment of `key` in the configuration files under `root`.
pub fn sysctl_origin(root: &Path, key: &str) -> std::io::Result<Origin> {
    let key = normalize(key);
    let (files, masked) = config_files(root);
    let mut assignments = Vec::new();
    for f in files {
        let real = root.join(f.strip_prefix("/").unwrap_or(&f));
        let text = match std::fs::read_to_string(&real) {
            Ok(t) => t,
            // A dangling link (an emptied /etc/sysctl.d/99-sysctl.conf) reads as nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            let k = k.trim().trim_start_matches('-').trim();
            if key_matches(k, &key) {
                assignments.push(Assignment {
                    file: f.clone(),
                    line: i + 1,
                    written: k.to_string(),
                    value: v.trim().to_string(),
                });
            }
        }
    }
    Ok(Origin {
        assignments,
        masked,
    })
}

/// The Linux key for a BSD or macOS sysctl name, when there is one.
pub fn linux_name_for(key: &str) -> Option<&'static str> {
    match key {
        "net.inet.ip.forwarding" => Some("net.ipv4.ip_forward"),
        "net.inet.ip.ttl" => Some("net.ipv4.ip_default_ttl"),
        "net.inet.ip.redirect" => Some("net.ipv4.conf.all.send_redirects"),
        "net.inet.ip.sourceroute" | "net.inet.ip.accept_sourceroute" => {
            Some("net.ipv4.conf.all.accept_source_route")
        }
        "net.inet.icmp.bmcastecho" => Some("net.ipv4.icmp_echo_ignore_broadcasts"),
        "net.inet.icmp.icmplim" => Some("net.ipv4.icmp_ratelimit"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }

    fn lines(o: &Origin) -> Vec<(String, usize, String)> {
        o.assignments
            .iter()
            .map(|a| (a.file.display().to_string(), a.line, a.value.clone()))
            .collect()
    }

    #[test]
    fn the_cloud_image_sysctl_conf_wins_at_boot() {
        let d = tree(&[
            ("etc/sysctl.d/99-docker.conf", "net.ipv4.ip_forward = 1\n"),
            ("etc/sysctl.conf", "# hardening\nnet.ipv4.ip_forward = 0\n"),
        ]);
        let o = sysctl_origin(d.path(), "net.ipv4.ip_forward").unwrap();
        assert_eq!(
            lines(&o),
            [
                ("/etc/sysctl.d/99-docker.conf".into(), 1, "1".into()),
                ("/etc/sysctl.conf".into(), 2, "0".into())
            ]
        );
        assert_eq!(o.winner().unwrap().value, "0");
    }

    #[test]
    fn a_directory_reached_through_a_symlink_is_read_once() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("usr/lib/sysctl.d")).unwrap();
        std::fs::write(
            r.join("usr/lib/sysctl.d/50-default.conf"),
            "net.ipv4.ip_forward = 0\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        let (files, masked) = config_files(r);
        assert!(masked.is_empty(), "{masked:?}");
        assert_eq!(files.len(), 1, "{files:?}");
    }

    #[test]
    fn same_named_files_are_hidden_and_names_sort_across_directories() {
        let d = tree(&[
            (
                "usr/lib/sysctl.d/50-default.conf",
                "net.ipv4.conf.all.rp_filter = 2\n",
            ),
            (
                "etc/sysctl.d/50-default.conf",
                "net.ipv4.conf.all.rp_filter = 0\n",
            ),
            (
                "usr/lib/sysctl.d/10-early.conf",
                "net/ipv4/conf/all/rp_filter = 1\n",
            ),
            (
                "run/sysctl.d/60-late.conf",
                "-net.ipv4.conf.*.rp_filter = 1\nnet.ipv4.conf.eth0.rp_filter=2\n",
            ),
        ]);
        let o = sysctl_origin(d.path(), "net.ipv4.conf.all.rp_filter").unwrap();
        assert_eq!(
            lines(&o),
            [
                ("/usr/lib/sysctl.d/10-early.conf".into(), 1, "1".into()),
                ("/etc/sysctl.d/50-default.conf".into(), 1, "0".into()),
                ("/run/sysctl.d/60-late.conf".into(), 1, "1".into()),
            ]
        );
        assert_eq!(
            o.masked,
            [Masked {
                file: "/usr/lib/sysctl.d/50-default.conf".into(),
                by: "/etc/sysctl.d/50-default.conf".into()
            }]
        );
        assert_eq!(o.winner().unwrap().written, "net.ipv4.conf.*.rp_filter");
    }

    #[test]
    fn keys_normalize_and_globs_match() {
        assert_eq!(
            normalize("net/ipv4/conf/eth0.100/rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter"
        );
        assert!(key_matches(
            "net.ipv4.conf.*.rp_filter",
            "net.ipv4.conf.lo.rp_filter"
        ));
        assert!(!key_matches(
            "net.ipv4.conf.*.rp_filter",
            "net.ipv4.conf.lo.accept_local"
        ));
        assert_eq!(
            linux_name_for("net.inet.ip.forwarding"),
            Some("net.ipv4.ip_forward")
        );
    }
}
