//! `fwdsim host dump DIR [--netns NAME]`: writes a snapshot directory by
//! running exactly the commands of the contract and keeping their output
//! unmodified.

use std::path::Path;
use std::process::Command;

use crate::error::HostError;

/// The snapshot files and the commands that make them (without `-n NAME`).
pub const SNAPSHOT_COMMANDS: [(&str, &[&str]); 5] = [
    ("addr.json", &["ip", "-j", "addr", "show"]),
    (
        "route.json",
        &["ip", "-j", "-4", "route", "show", "table", "all"],
    ),
    ("rule.json", &["ip", "-j", "-4", "rule", "show"]),
    ("neigh.json", &["ip", "-j", "-4", "neigh", "show"]),
    ("sysctl.txt", &["sysctl", "net.ipv4"]),
];

/// The command of `fdb.json`, written when iproute2's `bridge` is
/// installed: every bridge's FDB entries, `-s` adding their ages.
pub const FDB_COMMAND: [&str; 5] = ["bridge", "-j", "-s", "fdb", "show"];

/// The network namespace a command runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NsRef {
    /// The one this process runs in.
    Current,
    /// A named namespace (`ip netns list`).
    Named(String),
    /// The namespace of a process (`/proc/PID/ns/net`), entered with
    /// `nsenter --net=`.
    Pid(u32),
}

/// The command line for one snapshot file: `ip -n NAME ...` and
/// `ip netns exec NAME sysctl net.ipv4` when a namespace is named.
#[cfg(test)]
pub fn command_for(base: &[&str], netns: Option<&str>) -> Vec<String> {
    match netns {
        Some(n) => command_at(base, &NsRef::Named(n.to_string())),
        None => command_at(base, &NsRef::Current),
    }
}

/// [`command_for`] for any namespace: a process's one is entered with
/// `nsenter --net=/proc/PID/ns/net`.
pub fn command_at(base: &[&str], at: &NsRef) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    match (at, base[0]) {
        (NsRef::Named(n), "ip") => {
            v.extend(["ip".to_string(), "-n".into(), n.clone()]);
            v.extend(base[1..].iter().map(|s| s.to_string()));
        }
        (NsRef::Named(n), _) => {
            v.extend(["ip", "netns", "exec", n].map(String::from));
            v.extend(base.iter().map(|s| s.to_string()));
        }
        (NsRef::Pid(pid), _) => {
            v.extend(["nsenter".to_string(), format!("--net=/proc/{pid}/ns/net")]);
            v.extend(base.iter().map(|s| s.to_string()));
        }
        (NsRef::Current, _) => v.extend(base.iter().map(|s| s.to_string())),
    }
    v
}

/// The netfilter files: (file, command, how it is written).
pub const NETFILTER_COMMANDS: [(&str, &[&str], NfDump); 4] = [
    ("iptables.txt", &["iptables-save"], NfDump::Always),
    (
        "iptables-legacy.txt",
        &["iptables-legacy-save"],
        NfDump::WhenTables,
    ),
    ("ipset.txt", &["ipset", "save"], NfDump::WhenInstalled),
    (
        "nft.json",
        &["nft", "-j", "list", "ruleset"],
        NfDump::Always,
    ),
];

/// The sysctl trees `host dump` adds to sysctl.txt where they exist.
pub const NETFILTER_SYSCTLS: [&str; 2] = ["net.netfilter", "net.bridge"];

/// When `host dump` writes a netfilter file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfDump {
    /// Always (empty when the command is not installed), so that "no
    /// rules" and "not recorded" differ.
    Always,
    /// Only when the command prints at least one `*table`.
    WhenTables,
    /// Only when the command is installed and succeeds.
    WhenInstalled,
}

/// Whether `cmd` is an executable on PATH (or in /usr/sbin, /sbin).
fn installed(cmd: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(Into::into))
        .any(|d| d.join(cmd).is_file())
}

/// Runs `argv`; the error names `file` and the command.
pub(crate) fn run(file: &Path, argv: &[String]) -> Result<std::process::Output, HostError> {
    Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| HostError::Command {
            file: file.to_path_buf(),
            command: argv.join(" "),
            msg: e.to_string(),
        })
}

pub(crate) fn failed(file: &Path, argv: &[String], out: &std::process::Output) -> HostError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or("").trim();
    HostError::Command {
        file: file.to_path_buf(),
        command: argv.join(" "),
        msg: format!("{}: {first}", out.status),
    }
}

pub(crate) fn write(file: &Path, bytes: &[u8]) -> Result<(), HostError> {
    std::fs::write(file, bytes).map_err(|e| HostError::Io {
        file: file.to_path_buf(),
        source: e,
    })
}

/// Runs the snapshot commands for this machine or the named network
/// namespace and writes `addr.json`, `route.json`, `rule.json`,
/// `neigh.json` and `sysctl.txt` (with the `net.netfilter` and
/// `net.bridge` keys where they exist) into `dir` (created if needed)
/// exactly as the commands printed them; then the netfilter files of
/// [`NETFILTER_COMMANDS`].
pub fn dump(dir: &Path, netns: Option<&str>) -> Result<(), HostError> {
    match netns {
        Some(n) => dump_at(dir, &NsRef::Named(n.to_string())),
        None => dump_at(dir, &NsRef::Current),
    }
}

/// [`dump`] for any namespace ([`NsRef`]).
pub fn dump_at(dir: &Path, netns: &NsRef) -> Result<(), HostError> {
    std::fs::create_dir_all(dir).map_err(|e| HostError::Io {
        file: dir.to_path_buf(),
        source: e,
    })?;
    for (name, base) in SNAPSHOT_COMMANDS {
        let file = dir.join(name);
        let argv = command_at(base, netns);
        let out = run(&file, &argv)?;
        if !out.status.success() {
            return Err(failed(&file, &argv, &out));
        }
        let mut bytes = out.stdout;
        if name == "sysctl.txt" {
            for tree in NETFILTER_SYSCTLS {
                // Absent trees (no br_netfilter, no conntrack) fail: skip them.
                let argv = command_at(&["sysctl", tree], netns);
                if let Ok(o) = run(&file, &argv)
                    && o.status.success()
                {
                    bytes.extend_from_slice(&o.stdout);
                }
            }
        }
        write(&file, &bytes)?;
    }
    // The bridges' forwarding databases (`bridge fdb`), with their ages.
    if installed(FDB_COMMAND[0]) {
        let file = dir.join("fdb.json");
        let argv = command_at(&FDB_COMMAND, netns);
        let out = run(&file, &argv)?;
        if out.status.success() {
            write(&file, &out.stdout)?;
        }
    }
    for (name, base, when) in NETFILTER_COMMANDS {
        let file = dir.join(name);
        if !installed(base[0]) {
            if when == NfDump::Always {
                write(&file, b"")?;
            }
            continue;
        }
        let argv = command_at(base, netns);
        let out = run(&file, &argv)?;
        match when {
            NfDump::Always if !out.status.success() => return Err(failed(&file, &argv, &out)),
            NfDump::Always => write(&file, &out.stdout)?,
            NfDump::WhenTables => {
                let text = String::from_utf8_lossy(&out.stdout);
                if out.status.success() && text.lines().any(|l| l.starts_with('*')) {
                    write(&file, &out.stdout)?;
                }
            }
            NfDump::WhenInstalled => {
                if out.status.success() {
                    write(&file, &out.stdout)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_the_contracts() {
        let c = |i: usize, n| command_for(SNAPSHOT_COMMANDS[i].1, n).join(" ");
        assert_eq!(c(0, None), "ip -j addr show");
        assert_eq!(c(1, None), "ip -j -4 route show table all");
        assert_eq!(c(2, None), "ip -j -4 rule show");
        assert_eq!(c(3, None), "ip -j -4 neigh show");
        assert_eq!(c(4, None), "sysctl net.ipv4");
        assert_eq!(c(1, Some("r1")), "ip -n r1 -j -4 route show table all");
        assert_eq!(c(4, Some("r1")), "ip netns exec r1 sysctl net.ipv4");
        let n = |i: usize, ns| command_for(NETFILTER_COMMANDS[i].1, ns).join(" ");
        assert_eq!(n(0, None), "iptables-save");
        assert_eq!(n(1, None), "iptables-legacy-save");
        assert_eq!(n(2, None), "ipset save");
        assert_eq!(n(3, None), "nft -j list ruleset");
        assert_eq!(n(0, Some("r1")), "ip netns exec r1 iptables-save");
        assert_eq!(n(3, Some("r1")), "ip netns exec r1 nft -j list ruleset");
        let p = |i: usize| command_at(SNAPSHOT_COMMANDS[i].1, &NsRef::Pid(42)).join(" ");
        assert_eq!(p(0), "nsenter --net=/proc/42/ns/net ip -j addr show");
        assert_eq!(p(4), "nsenter --net=/proc/42/ns/net sysctl net.ipv4");
    }
}
