//! Network namespaces owned by this process, deleted on drop.
//!
//! Every namespace is named `fws-<pid>-<n>`; leftovers of the same prefix
//! (a previous process with the same pid that was killed) are deleted before
//! the first one is made. Nothing here touches the root namespace: all
//! commands go through `ip -n NS` or `ip netns exec NS`.

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};

use crate::error::{LabError, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);
static CLEANUP: Once = Once::new();
/// `ip netns add/del` mount /run/netns; running them concurrently from several
/// test threads is racy in iproute2, so they are serialised.
static NETNS_LOCK: Mutex<()> = Mutex::new(());

/// The prefix of every namespace this process makes: `fws-<pid>-`.
pub fn prefix() -> String {
    format!("fws-{}-", std::process::id())
}

/// Runs a program and returns its output; fails only when it cannot start.
pub fn run_program(program: &str, args: &[&str]) -> Result<Output> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LabError::Spawn {
            cmd: command_line(program, args),
            source,
        })
}

/// Runs a program and fails unless it exits 0; returns stdout.
pub fn run_checked(program: &str, args: &[&str]) -> Result<String> {
    let out = run_program(program, args)?;
    if !out.status.success() {
        return Err(LabError::from_output(&command_line(program, args), &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `program arg arg ...` for messages.
pub fn command_line(program: &str, args: &[&str]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Deletes namespaces named with this process's prefix (left by an earlier
/// process with the same pid). Runs once per process.
fn cleanup_leftovers() {
    CLEANUP.call_once(|| {
        let pre = prefix();
        let Ok(list) = run_checked("ip", &["netns", "list"]) else {
            return;
        };
        for line in list.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if name.starts_with(&pre) {
                let _ = run_program("ip", &["netns", "del", name]);
            }
        }
    });
}

/// A network namespace made by this process; dropping it deletes it.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Makes a new namespace `fws-<pid>-<n>` with `lo` up.
    pub fn new() -> Result<Netns> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}{n}", prefix());
        {
            let _g = lock();
            cleanup_leftovers();
            run_checked("ip", &["netns", "add", &name])?;
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS...` and returns its output whatever the status.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run_program("ip", &full)
    }

    /// Runs `ip -n NAME ARGS...`, fails unless it exits 0, returns stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run_checked("ip", &full)
    }

    /// Runs `ip netns exec NAME PROGRAM ARGS...` and returns its output.
    pub fn exec(&self, argv: &[&str]) -> Result<Output> {
        let mut full = vec!["netns", "exec", &self.name];
        full.extend_from_slice(argv);
        run_program("ip", &full)
    }

    /// `sysctl -w KEY=VALUE` inside the namespace (several pairs at once
    /// are allowed: `&[("k", "v"), ...]`).
    pub fn sysctl(&self, pairs: &[(&str, &str)]) -> Result<()> {
        let assigns: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut argv = vec!["sysctl", "-q", "-w"];
        argv.extend(assigns.iter().map(String::as_str));
        let out = self.exec(&argv)?;
        // sysctl exits 0 on some failures but always says so on stderr.
        if !out.status.success() || !out.stderr.is_empty() {
            return Err(LabError::from_output(
                &format!("ip netns exec {} {}", self.name, argv.join(" ")),
                &out,
            ));
        }
        Ok(())
    }

    /// Reads one sysctl value inside the namespace.
    pub fn sysctl_get(&self, key: &str) -> Result<String> {
        let out = self.exec(&["sysctl", "-n", key])?;
        if !out.status.success() {
            return Err(LabError::from_output(&format!("sysctl -n {key}"), &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _g = lock();
        match run_program("ip", &["netns", "del", &self.name]) {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "fwdsim-lab: could not delete netns {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("fwdsim-lab: could not delete netns {}: {e}", self.name),
        }
    }
}

/// Whether this process can build lab hosts: namespaces and a veth pair
/// between two of them. `Err` carries the reason (for the skip message).
pub fn can_make_netns() -> std::result::Result<(), String> {
    static PROBE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    PROBE.get_or_init(probe).clone()
}

fn probe() -> std::result::Result<(), String> {
    match run_program("ip", &["-V"]) {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "`ip -V` failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Err(e) => return Err(format!("iproute2 is not usable: {e}")),
    }
    let a = Netns::new().map_err(|e| format!("cannot create a network namespace: {e}"))?;
    let b = Netns::new().map_err(|e| format!("cannot create a network namespace: {e}"))?;
    a.ip(&[
        "link",
        "add",
        "probe0",
        "type",
        "veth",
        "peer",
        "name",
        "probe1",
        "netns",
        b.name(),
    ])
    .map_err(|e| format!("cannot create a veth pair between namespaces: {e}"))?;
    a.sysctl(&[("net.ipv4.conf.all.rp_filter", "0")])
        .map_err(|e| format!("cannot set sysctls inside a namespace: {e}"))?;
    Ok(())
}
