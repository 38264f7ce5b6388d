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

/// The command line for one snapshot file: `ip -n NAME ...` and
/// `ip netns exec NAME sysctl net.ipv4` when a namespace is named.
pub fn command_for(base: &[&str], netns: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    match (netns, base[0]) {
        (Some(n), "ip") => {
            v.extend(["ip".to_string(), "-n".into(), n.into()]);
            v.extend(base[1..].iter().map(|s| s.to_string()));
        }
        (Some(n), _) => {
            v.extend(["ip", "netns", "exec", n].map(String::from));
            v.extend(base.iter().map(|s| s.to_string()));
        }
        (None, _) => v.extend(base.iter().map(|s| s.to_string())),
    }
    v
}

/// Runs the snapshot commands for this machine or the named network
/// namespace and writes `addr.json`, `route.json`, `rule.json`,
/// `neigh.json` and `sysctl.txt` into `dir` (created if needed) exactly as
/// the commands printed them.
pub fn dump(dir: &Path, netns: Option<&str>) -> Result<(), HostError> {
    std::fs::create_dir_all(dir).map_err(|e| HostError::Io {
        file: dir.to_path_buf(),
        source: e,
    })?;
    for (name, base) in SNAPSHOT_COMMANDS {
        let file = dir.join(name);
        let argv = command_for(base, netns);
        let command = argv.join(" ");
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .map_err(|e| HostError::Command {
                file: file.clone(),
                command: command.clone(),
                msg: e.to_string(),
            })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("").trim();
            return Err(HostError::Command {
                file,
                command,
                msg: format!("{}: {first}", out.status),
            });
        }
        std::fs::write(&file, &out.stdout).map_err(|e| HostError::Io { file, source: e })?;
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
    }
}
