//! The `skb:kfree_skb` tracepoint, in a tracefs instance of our own.
//!
//! The tracepoint is global (every namespace, every process). Rather than
//! switch the top-level event on and off under whoever else uses it, the
//! lab makes an instance `/sys/kernel/tracing/instances/fws-pkt-<pid>-<n>` with
//! its own buffer and its own event switch, enables `skb/kfree_skb` there
//! with the filter `protocol == 2048` (IPv4 skbs), and reads its
//! `trace_pipe` without blocking. Dropping [`KfreeTrace`] disables the event
//! and removes the instance (also when a test panics); instances left by a
//! process that no longer runs are removed when the next one is made.
//!
//! tracefs is mounted at /sys/kernel/tracing when it is not there yet
//! (`mount -t tracefs nodev /sys/kernel/tracing`) and left mounted.
//!
//! Events are kept when they were recorded in the context of the thread
//! that injects (veth delivery is synchronous, see [`crate::packet::wire`])
//! or of a `ksoftirqd`, and when their reason is not
//! `BRIDGE_INGRESS_STP_STATE` (the client and server dropping what they
//! receive): whatever else runs on the machine stays out.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::netns::run_program;

/// Where tracefs is (mounted here when missing).
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// The reason of the end hosts' own drops, left out of every observation.
pub const END_HOST_REASON: &str = "BRIDGE_INGRESS_STP_STATE";

/// One `net:netif_receive_skb` event (enabled by
/// [`KfreeTrace::enable_receive`]): an skb entering `__netif_receive_skb_core`
/// on a device, whose address the `kfree_skb` events of the same skb carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvEvent {
    /// The task (`comm`).
    pub comm: String,
    /// Its pid.
    pub pid: i32,
    /// The device.
    pub dev: String,
    /// `skbaddr=` as tracefs prints it (a hashed pointer, stable within a boot).
    pub skbaddr: String,
}

/// Parses one `netif_receive_skb` line:
/// `  comm-PID [CPU] FLAGS TIME: netif_receive_skb: dev=r0 skbaddr=00000000deadbeef len=84`.
pub fn parse_recv_line(line: &str) -> Option<RecvEvent> {
    let (head, rest) = line.split_once(" netif_receive_skb: ")?;
    let task = head.split_whitespace().next()?;
    let (comm, pid) = task.rsplit_once('-')?;
    let field = |name: &str| -> Option<&str> {
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    Some(RecvEvent {
        comm: comm.to_string(),
        pid: pid.parse().ok()?,
        dev: field("dev")?.to_string(),
        skbaddr: field("skbaddr")?.to_string(),
    })
}

/// One `kfree_skb` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropEvent {
    /// `skbaddr=` as tracefs prints it.
    pub skbaddr: String,
    /// The task the event was recorded in (`comm`, as tracefs shows it).
    pub comm: String,
    /// Its pid (the thread id).
    pub pid: i32,
    /// `location=` without the offset: the freeing function
    /// (`ip_rcv_core`, `ip_error`, ...).
    pub location: String,
    /// The drop reason's name without `SKB_DROP_REASON_`.
    pub reason: String,
    /// `protocol=` (2048 for IPv4).
    pub protocol: u16,
}

/// Parses one line of `trace` / `trace_pipe`:
/// `  comm-PID  [CPU] FLAGS  TIME: kfree_skb: skbaddr=.. rx_sk=.. protocol=2048 location=ip_error+0x94/0x210 reason: IP_INNOROUTES`.
pub fn parse_line(line: &str) -> Option<DropEvent> {
    let (head, rest) = line.split_once(" kfree_skb: ")?;
    let task = head.split_whitespace().next()?;
    let (comm, pid) = task.rsplit_once('-')?;
    let pid: i32 = pid.parse().ok()?;
    let field = |name: &str| -> Option<&str> {
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    let protocol: u16 = field("protocol")?.parse().ok()?;
    let location = field("location")?;
    let location = location.split('+').next().unwrap_or(location).to_string();
    let reason = rest.split_once("reason: ")?.1.trim().to_string();
    Some(DropEvent {
        skbaddr: field("skbaddr").unwrap_or("").to_string(),
        comm: comm.to_string(),
        pid,
        location,
        reason,
        protocol,
    })
}

/// The tracefs instance; see the module documentation.
#[derive(Debug)]
pub struct KfreeTrace {
    dir: PathBuf,
    pipe: Option<File>,
    partial: String,
    receives: Vec<RecvEvent>,
}

fn write(path: &Path, value: &str) -> std::result::Result<(), String> {
    std::fs::write(path, value)
        .map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

/// Removes instances `fws-pkt-<pid>[-<n>]` whose process is gone.
fn remove_stale(instances: &Path) {
    let Ok(rd) = std::fs::read_dir(instances) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("fws-pkt-") else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or(rest);
        if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::write(e.path().join("events/skb/kfree_skb/enable"), "0");
            let _ = std::fs::write(e.path().join("events/net/netif_receive_skb/enable"), "0");
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

impl KfreeTrace {
    /// Makes the instance and enables the event; `Err` says why it cannot
    /// be used here (for the skip message).
    pub fn open() -> std::result::Result<KfreeTrace, String> {
        let root = Path::new(TRACEFS);
        let instances = root.join("instances");
        if !instances.is_dir() {
            let out = run_program("mount", &["-t", "tracefs", "nodev", TRACEFS])
                .map_err(|e| e.to_string())?;
            if !out.status.success() || !instances.is_dir() {
                return Err(format!(
                    "tracefs is not mounted at {TRACEFS} and mounting it failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        remove_stale(&instances);
        // A name of its own for every instance this process makes: the
        // kernel may take a moment to let an instance just closed go.
        static OPENED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        // (One left by an earlier process of the same pid is passed over.)
        let dir = loop {
            let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let dir = instances.join(format!("fws-pkt-{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == ErrorKind::AlreadyExists && n < 64 => continue,
                Err(e) => {
                    return Err(format!(
                        "cannot make the tracefs instance {}: {e}",
                        dir.display()
                    ));
                }
            }
        };
        // From here on, Drop removes the instance.
        let mut t = KfreeTrace {
            dir,
            pipe: None,
            partial: String::new(),
            receives: Vec::new(),
        };
        let ev = t.dir.join("events/skb/kfree_skb");
        if !ev.is_dir() {
            return Err("the skb:kfree_skb tracepoint does not exist".into());
        }
        write(&ev.join("filter"), "protocol == 2048")?;
        write(&ev.join("enable"), "1")?;
        let pipe = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(t.dir.join("trace_pipe"))
            .map_err(|e| format!("cannot open trace_pipe: {e}"))?;
        t.pipe = Some(pipe);
        Ok(t)
    }

    /// Every event recorded since the last call (all tasks, all reasons).
    pub fn drain_all(&mut self) -> Vec<DropEvent> {
        let mut text = std::mem::take(&mut self.partial);
        if let Some(p) = self.pipe.as_mut() {
            let mut buf = [0u8; 16384];
            loop {
                match p.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        }
        // Keep an unfinished last line for the next call.
        if !text.ends_with('\n') {
            if let Some(i) = text.rfind('\n') {
                self.partial = text.split_off(i + 1);
            } else {
                self.partial = std::mem::take(&mut text);
            }
        }
        self.receives
            .extend(text.lines().filter_map(parse_recv_line));
        text.lines().filter_map(parse_line).collect()
    }

    /// Also records `net:netif_receive_skb` on the devices `devs` (in every
    /// namespace: the events are kept only for this thread, see
    /// [`KfreeTrace::take_receives`]).
    pub fn enable_receive(&mut self, devs: &[&str]) -> std::result::Result<(), String> {
        let ev = self.dir.join("events/net/netif_receive_skb");
        if !ev.is_dir() {
            return Err("the net:netif_receive_skb tracepoint does not exist".into());
        }
        let f: Vec<String> = devs.iter().map(|d| format!("name == \"{d}\"")).collect();
        write(&ev.join("filter"), &f.join(" || "))?;
        write(&ev.join("enable"), "1")
    }

    /// The `netif_receive_skb` events of this thread (or a `ksoftirqd`)
    /// read by the `drain` calls since the last call.
    pub fn take_receives(&mut self) -> Vec<RecvEvent> {
        let me = nix::unistd::gettid().as_raw();
        std::mem::take(&mut self.receives)
            .into_iter()
            .filter(|e| e.pid == me || e.comm.starts_with("ksoftirqd"))
            .collect()
    }

    /// The events of this thread (or a `ksoftirqd`) since the last call,
    /// without the end hosts' drops.
    pub fn drain(&mut self) -> Vec<DropEvent> {
        let me = nix::unistd::gettid().as_raw();
        self.drain_all()
            .into_iter()
            .filter(|e| {
                (e.pid == me || e.comm.starts_with("ksoftirqd"))
                    && e.protocol == 2048
                    && e.reason != END_HOST_REASON
            })
            .collect()
    }
}

impl Drop for KfreeTrace {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("events/skb/kfree_skb/enable"), "0");
        let _ = std::fs::write(self.dir.join("events/net/netif_receive_skb/enable"), "0");
        self.pipe = None;
        // An instance still busy (its pipe being released) goes a moment later.
        let mut last = None;
        for _ in 0..20 {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) => last = Some(e),
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        if let Some(e) = last {
            eprintln!(
                "fwdsim-lab: could not remove tracefs instance {}: {e}",
                self.dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trace_lines() {
        let l = "         python3-21873   [001] ..s1.  8923.329311: kfree_skb: skbaddr=00000000384aa4bb rx_sk=0000000000000000 protocol=2048 location=ip_error+0x94/0x210 reason: IP_INNOROUTES";
        assert_eq!(
            parse_line(l),
            Some(DropEvent {
                skbaddr: "00000000384aa4bb".into(),
                comm: "python3".into(),
                pid: 21873,
                location: "ip_error".into(),
                reason: "IP_INNOROUTES".into(),
                protocol: 2048,
            })
        );
        let l = " <...>-21816   [001] ..s1.  8921.365274: kfree_skb: skbaddr=0 rx_sk=0 protocol=2048 location=br_handle_frame+0xff/0x480 reason: BRIDGE_INGRESS_STP_STATE";
        let e = parse_line(l).unwrap();
        assert_eq!((e.comm.as_str(), e.pid), ("<...>", 21816));
        let l = "ksoftirqd/1-23 [001] ..s1. 1.0: kfree_skb: skbaddr=0 rx_sk=0 protocol=2048 location=ip_rcv_core+0x1/0x2 reason: OTHERHOST";
        assert_eq!(parse_line(l).unwrap().comm, "ksoftirqd/1");
        assert_eq!(parse_line("# tracer: nop"), None);
        let l = "   fwdsim-123 [000] b..1. 5.5: netif_receive_skb: dev=r0 skbaddr=00000000deadbeef len=84";
        let r = parse_recv_line(l).unwrap();
        assert_eq!(
            (r.dev.as_str(), r.skbaddr.as_str(), r.pid),
            ("r0", "00000000deadbeef", 123)
        );
    }
}
