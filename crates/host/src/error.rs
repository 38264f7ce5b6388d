//! The errors of loading, dumping and overriding a host. Every variant names
//! the file it is about, and its `Display` is one line:
//! `FILE: what was wrong (and what is allowed)`.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a host could not be loaded (or dumped, or overridden).
#[derive(Debug, Error)]
pub enum HostError {
    /// The file could not be read or written.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file that a snapshot must hold is not there.
    #[error("{}: missing (a snapshot directory holds addr.json, route.json, rule.json, sysctl.txt and optionally neigh.json)", file.display())]
    MissingFile {
        /// The path that does not exist.
        file: PathBuf,
    },
    /// The host path is neither a directory nor a file.
    #[error("{}: not found (--host takes a snapshot directory or a TOML file)", file.display())]
    NotFound {
        /// The path given.
        file: PathBuf,
    },
    /// Malformed JSON, or JSON that is not what `ip -j` prints.
    #[error("{}:{line}:{column}: {msg}", file.display())]
    Json {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        msg: String,
    },
    /// Malformed TOML, or a key the host format does not have.
    #[error("{}:{line}:{column}: {msg}", file.display())]
    Toml {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        msg: String,
    },
    /// A device name that is no device of the host.
    #[error("{}: unknown device {name:?} (the devices are those of addr.json or the [[interface]] tables, and lo)", file.display())]
    UnknownDevice {
        /// The file.
        file: PathBuf,
        /// The name used.
        name: String,
    },
    /// Two devices with one ifindex.
    #[error("{}: two devices have ifindex {ifindex} (each ifindex must be unique)", file.display())]
    DuplicateIfindex {
        /// The file.
        file: PathBuf,
        /// The index used twice.
        ifindex: u32,
    },
    /// Two devices with one name.
    #[error("{}: two devices are named {name:?} (each name must be unique)", file.display())]
    DuplicateDevice {
        /// The file.
        file: PathBuf,
        /// The name used twice.
        name: String,
    },
    /// An address (IPv4, prefix or MAC) that does not parse, or that the
    /// kernel would refuse.
    #[error("{}: bad address: {what}", file.display())]
    BadAddress {
        /// The file.
        file: PathBuf,
        /// What was wrong, quoting the text.
        what: String,
    },
    /// A value other than an address that does not parse (a flag, a state,
    /// a group, a table name, ...).
    #[error("{}: bad value: {what}", file.display())]
    BadValue {
        /// The file.
        file: PathBuf,
        /// What was wrong, quoting the text.
        what: String,
    },
    /// An `nft -j list ruleset` file whose parts do not fit together (a
    /// rule of a chain or table that is not listed).
    #[error("{}: {what}", file.display())]
    NftRuleset {
        /// The file.
        file: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// A sysctl that the model does not know (in a TOML host or an
    /// override; a snapshot ignores them).
    #[error("{}: unknown sysctl {key:?} (known: net.ipv4.ip_forward, net.ipv4.conf.{{all,default,DEV}}.KEY and the modelled net.ipv4.* keys)", file.display())]
    UnknownSysctl {
        /// The file.
        file: PathBuf,
        /// The key.
        key: String,
    },
    /// A sysctl line or value that does not parse, or that the kernel would refuse.
    #[error("{}: {msg}", file.display())]
    BadSysctl {
        /// The file (with `:LINE` for sysctl.txt).
        file: PathBuf,
        /// What was wrong.
        msg: String,
    },
    /// A route that does not parse or that the kernel refuses.
    #[error("{}: route {route:?}: {msg}", file.display())]
    BadRoute {
        /// The file.
        file: PathBuf,
        /// The route as written (iproute2 words, or the JSON object).
        route: String,
        /// What was wrong (the kernel's message when it refuses).
        msg: String,
    },
    /// A rule that does not parse or that the kernel refuses.
    #[error("{}: rule {rule:?}: {msg}", file.display())]
    BadRule {
        /// The file.
        file: PathBuf,
        /// The rule as written.
        rule: String,
        /// What was wrong (the kernel's message when it refuses).
        msg: String,
    },
    /// The model refused a configuration step for another reason.
    #[error("{}: {msg}", file.display())]
    Config {
        /// The file.
        file: PathBuf,
        /// The model's message.
        msg: String,
    },
    /// A malformed `iptables-save`, `ipset save` or netfilter block: what
    /// `iptables-restore` would refuse (a bad address, an unterminated
    /// quote, a rule outside a table, a missing COMMIT, a jump to a missing
    /// chain); or a `conntrack -L` line that cannot be read or inserted.
    #[error("{}:{line}:{column}: {msg}", file.display())]
    Netfilter {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (of the word that is wrong).
        column: usize,
        /// What was wrong.
        msg: String,
    },
    /// A topology whose parts do not fit together: a link naming a
    /// namespace or device that is not there, a device in two links, a
    /// namespace given twice.
    #[error("{}:{line}: {msg}", file.display())]
    Topology {
        /// The topology file (`topology.toml` or the TOML topology).
        file: PathBuf,
        /// 1-based line of the entry that is wrong (0 when none).
        line: usize,
        /// What was wrong, and what is allowed.
        msg: String,
    },
    /// A command of `host dump` could not run or failed.
    #[error("{}: `{command}` failed: {msg}", file.display())]
    Command {
        /// The file the command was to write.
        file: PathBuf,
        /// The command line.
        command: String,
        /// Why (exit status and the first line of its stderr).
        msg: String,
    },
}

impl HostError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            HostError::Io { file, .. }
            | HostError::MissingFile { file }
            | HostError::NotFound { file }
            | HostError::Json { file, .. }
            | HostError::Toml { file, .. }
            | HostError::UnknownDevice { file, .. }
            | HostError::DuplicateIfindex { file, .. }
            | HostError::DuplicateDevice { file, .. }
            | HostError::BadAddress { file, .. }
            | HostError::BadValue { file, .. }
            | HostError::NftRuleset { file, .. }
            | HostError::UnknownSysctl { file, .. }
            | HostError::BadSysctl { file, .. }
            | HostError::BadRoute { file, .. }
            | HostError::BadRule { file, .. }
            | HostError::Config { file, .. }
            | HostError::Netfilter { file, .. }
            | HostError::Topology { file, .. }
            | HostError::Command { file, .. } => file,
        }
    }

    /// A JSON error of `serde_json` in `file`, with its position.
    pub(crate) fn json(file: &Path, e: &serde_json::Error) -> Self {
        // serde_json's message ends with " at line L column C"; keep only the cause.
        let msg = e.to_string();
        let msg = match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        HostError::Json {
            file: file.to_path_buf(),
            line: e.line(),
            column: e.column(),
            msg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn every_variant_displays_one_line_naming_the_file() {
        let cases: Vec<(HostError, &str)> = vec![
            (
                HostError::Io {
                    file: p("h/addr.json"),
                    source: std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        "Permission denied",
                    ),
                },
                "h/addr.json: Permission denied",
            ),
            (
                HostError::MissingFile {
                    file: p("h/route.json"),
                },
                "h/route.json: missing (a snapshot directory holds addr.json, route.json, rule.json, sysctl.txt and optionally neigh.json)",
            ),
            (
                HostError::NotFound { file: p("nope") },
                "nope: not found (--host takes a snapshot directory or a TOML file)",
            ),
            (
                HostError::Json {
                    file: p("h/addr.json"),
                    line: 3,
                    column: 17,
                    msg: "expected value".into(),
                },
                "h/addr.json:3:17: expected value",
            ),
            (
                HostError::Toml {
                    file: p("x.toml"),
                    line: 4,
                    column: 1,
                    msg: "unknown field `mac_address`, expected one of `name`, `addresses`".into(),
                },
                "x.toml:4:1: unknown field `mac_address`, expected one of `name`, `addresses`",
            ),
            (
                HostError::UnknownDevice {
                    file: p("h/route.json"),
                    name: "eth9".into(),
                },
                "h/route.json: unknown device \"eth9\" (the devices are those of addr.json or the [[interface]] tables, and lo)",
            ),
            (
                HostError::DuplicateIfindex {
                    file: p("h/addr.json"),
                    ifindex: 2,
                },
                "h/addr.json: two devices have ifindex 2 (each ifindex must be unique)",
            ),
            (
                HostError::DuplicateDevice {
                    file: p("x.toml"),
                    name: "eth0".into(),
                },
                "x.toml: two devices are named \"eth0\" (each name must be unique)",
            ),
            (
                HostError::BadAddress {
                    file: p("x.toml"),
                    what: "\"10.0.0.300/24\" is not an IPv4 address".into(),
                },
                "x.toml: bad address: \"10.0.0.300/24\" is not an IPv4 address",
            ),
            (
                HostError::BadValue {
                    file: p("x.toml"),
                    what: "state \"sideways\" (allowed: \"up\", \"down\")".into(),
                },
                "x.toml: bad value: state \"sideways\" (allowed: \"up\", \"down\")",
            ),
            (
                HostError::UnknownSysctl {
                    file: p("x.toml"),
                    key: "net.ipv4.conf.all.frobnicate".into(),
                },
                "x.toml: unknown sysctl \"net.ipv4.conf.all.frobnicate\" (known: net.ipv4.ip_forward, net.ipv4.conf.{all,default,DEV}.KEY and the modelled net.ipv4.* keys)",
            ),
            (
                HostError::BadSysctl {
                    file: p("h/sysctl.txt:7"),
                    msg: "net.ipv4.ip_forward: value \"yes\" is not an integer".into(),
                },
                "h/sysctl.txt:7: net.ipv4.ip_forward: value \"yes\" is not an integer",
            ),
            (
                HostError::BadRoute {
                    file: p("x.toml"),
                    route: "10.1.0.0/16 via 10.9.9.9".into(),
                    msg: "Nexthop has invalid gateway".into(),
                },
                "x.toml: route \"10.1.0.0/16 via 10.9.9.9\": Nexthop has invalid gateway",
            ),
            (
                HostError::BadRule {
                    file: p("x.toml"),
                    rule: "pref 10 goto 5".into(),
                    msg: "Invalid argument".into(),
                },
                "x.toml: rule \"pref 10 goto 5\": Invalid argument",
            ),
            (
                HostError::Config {
                    file: p("x.toml"),
                    msg: "device \"t0\" has no IPv4 configuration (MTU below 68)".into(),
                },
                "x.toml: device \"t0\" has no IPv4 configuration (MTU below 68)",
            ),
            (
                HostError::Netfilter {
                    file: p("h/iptables.txt"),
                    line: 12,
                    column: 14,
                    msg: "bad address \"10.0.0.300\" for -s".into(),
                },
                "h/iptables.txt:12:14: bad address \"10.0.0.300\" for -s",
            ),
            (
                HostError::Command {
                    file: p("d/addr.json"),
                    command: "ip -n x -j addr show".into(),
                    msg: "exit status 1: Cannot open network namespace \"x\"".into(),
                },
                "d/addr.json: `ip -n x -j addr show` failed: exit status 1: Cannot open network namespace \"x\"",
            ),
            (
                HostError::Topology {
                    file: p("t/topology.toml"),
                    line: 3,
                    msg: "link end \"ctr/eth9\": no device eth9 in namespace ctr".into(),
                },
                "t/topology.toml:3: link end \"ctr/eth9\": no device eth9 in namespace ctr",
            ),
        ];
        for (e, want) in cases {
            let got = e.to_string();
            assert_eq!(got, want);
            assert!(!got.contains('\n'));
            assert!(got.starts_with(&e.file().display().to_string()));
        }
    }

    #[test]
    fn json_errors_keep_line_and_column_apart_from_the_message() {
        let e = serde_json::from_str::<serde_json::Value>("[\n  {\"a\": }\n]").unwrap_err();
        let h = HostError::json(Path::new("addr.json"), &e);
        assert_eq!(h.to_string(), "addr.json:2:9: expected value");
    }
}
