//! Runs the fwdsim binary the way interfaces.md specifies it and reads its
//! answers back into [`Answer`]s.
//!
//! - `fwdsim host dump DIR --netns NS` must exit 0 and leave `addr.json`,
//!   `route.json`, `rule.json` and `sysctl.txt` in DIR.
//! - `fwdsim route get ARGS --host PATH -j`: success = exit 0 and stdout a
//!   JSON array with one object in iproute2's keys; failure = exit 2 and
//!   stdout a JSON object with `errno`, `message` and `drop_reason`.
//! - `fwdsim host show --host PATH -j`: a JSON object with a `route` member.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::answer::{Answer, ErrorAnswer, RouteAnswer};
use crate::query::Query;

/// The longest one fwdsim command may run before it is killed and
/// reported.
pub const TIME_LIMIT: Duration = Duration::from_secs(30);

/// The fwdsim binary under test.
#[derive(Clone, Debug)]
pub struct Fwdsim {
    /// Path of the binary (`env!("CARGO_BIN_EXE_fwdsim")` in tests).
    pub bin: PathBuf,
}

/// What `fwdsim route get` gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// An answer in the contract's form.
    Answer(Answer),
    /// Anything else: why it does not follow the contract.
    Broken(String),
}

fn clip(s: &str) -> String {
    let s = s.trim();
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

fn describe(out: &Output) -> String {
    format!(
        "exit {}, stdout {:?}, stderr {:?}",
        out.status
            .code()
            .map(|c| c.to_string())
            .unwrap_or_else(|| out.status.to_string()),
        clip(&String::from_utf8_lossy(&out.stdout)),
        clip(&String::from_utf8_lossy(&out.stderr))
    )
}

impl Fwdsim {
    /// The binary at `bin`.
    pub fn new(bin: impl Into<PathBuf>) -> Fwdsim {
        Fwdsim { bin: bin.into() }
    }

    /// Runs the binary with a time limit ([`TIME_LIMIT`]): a hang becomes an
    /// error instead of a stuck test.
    fn run(&self, args: &[&str]) -> std::result::Result<Output, String> {
        let mut child = Command::new(&self.bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        let reader = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out_t = reader(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let err_t = reader(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let start = Instant::now();
        let mut pause = Duration::from_micros(100);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() > TIME_LIMIT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "`fwdsim {}` did not finish within {}s (killed)",
                        args.join(" "),
                        TIME_LIMIT.as_secs()
                    ));
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(e) => return Err(format!("waiting for fwdsim: {e}")),
            }
        };
        Ok(Output {
            status,
            stdout: out_t.join().unwrap_or_default(),
            stderr: err_t.join().unwrap_or_default(),
        })
    }

    /// `fwdsim host dump DIR --netns NS`; checks the files it must write.
    pub fn host_dump(&self, dir: &Path, netns: &str) -> std::result::Result<(), String> {
        let d = dir.display().to_string();
        let out = self.run(&["host", "dump", &d, "--netns", netns])?;
        if !out.status.success() {
            return Err(format!(
                "`fwdsim host dump DIR --netns NS` failed: {}",
                describe(&out)
            ));
        }
        for f in ["addr.json", "route.json", "rule.json", "sysctl.txt"] {
            let p = dir.join(f);
            match std::fs::metadata(&p) {
                Ok(m) if m.len() > 0 => {}
                _ => {
                    return Err(format!(
                        "`fwdsim host dump` exited 0 but left no {f} ({})",
                        describe(&out)
                    ));
                }
            }
        }
        Ok(())
    }

    /// `fwdsim route get QUERY --host HOST -j`.
    pub fn route_get(&self, host: &Path, q: &Query) -> Reply {
        let mut args: Vec<String> = vec!["route".into(), "get".into()];
        args.extend(q.args());
        args.push("--host".into());
        args.push(host.display().to_string());
        args.push("-j".into());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = match self.run(&argv) {
            Ok(o) => o,
            Err(e) => return Reply::Broken(e),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        match out.status.code() {
            Some(0) => {
                let v: Value = match serde_json::from_str(stdout.trim()) {
                    Ok(v) => v,
                    Err(e) => {
                        return Reply::Broken(format!(
                            "exit 0 but stdout is not JSON ({e}); {}",
                            describe(&out)
                        ));
                    }
                };
                match &v {
                    Value::Array(a) if a.len() == 1 => match RouteAnswer::from_json(&a[0]) {
                        Some(r) => Reply::Answer(Answer::Ok(Box::new(r))),
                        None => Reply::Broken(format!(
                            "exit 0 but the array does not hold an object; {}",
                            describe(&out)
                        )),
                    },
                    _ => Reply::Broken(format!(
                        "exit 0 but stdout is not a JSON array with one object; {}",
                        describe(&out)
                    )),
                }
            }
            Some(2) => {
                let v: Value = match serde_json::from_str(stdout.trim()) {
                    Ok(v) => v,
                    Err(e) => {
                        return Reply::Broken(format!(
                            "exit 2 but stdout is not JSON ({e}); {}",
                            describe(&out)
                        ));
                    }
                };
                let errno = v.get("errno").and_then(Value::as_str);
                let message = v.get("message").and_then(Value::as_str);
                match (errno, message) {
                    (Some(e), Some(m)) => Reply::Answer(Answer::Err(ErrorAnswer {
                        message: m.to_string(),
                        errno: Some(e.to_string()),
                        drop_reason: v
                            .get("drop_reason")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    })),
                    _ => Reply::Broken(format!(
                        "exit 2 but stdout lacks \"errno\"/\"message\"; {}",
                        describe(&out)
                    )),
                }
            }
            _ => Reply::Broken(describe(&out)),
        }
    }

    /// `fwdsim host show --host HOST -j`, its `route` member.
    pub fn host_show_routes(&self, host: &Path) -> std::result::Result<Value, String> {
        let h = host.display().to_string();
        let out = self.run(&["host", "show", "--host", &h, "-j"])?;
        if !out.status.success() {
            return Err(format!(
                "`fwdsim host show --host FILE -j` failed: {}",
                describe(&out)
            ));
        }
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "`fwdsim host show -j` printed no JSON ({e}): {}",
                describe(&out)
            )
        })?;
        v.get("route").cloned().ok_or_else(|| {
            format!(
                "`fwdsim host show -j` has no \"route\" member: {}",
                describe(&out)
            )
        })
    }
}
