//! A stand-in for the fwdsim binary that answers with the kernel itself, to
//! check the differential harness end to end: with
//! `FWDSIM_BIN=<target>/debug/examples/kernel_echo` the `kernel_*` tests
//! must report no disagreement at all.
//!
//! - `host dump DIR --netns NS`: the snapshot commands, plus `DIR/netns`
//!   holding NS;
//! - `route get WORDS --host PATH -j`: `ip -n NS -j route get WORDS` in that
//!   namespace (a snapshot directory), or in a namespace built from the TOML
//!   file for this one query; errors as `{"errno", "message"}` with exit 2;
//! - `host show --host FILE.toml -j`: `{"route": <ip -j -4 route show table all>}`
//!   of the host built from the file.

use std::path::Path;
use std::process::ExitCode;

use fwdsim_lab::{Answer, HostSpec, LabHost};

fn fail(msg: String) -> ExitCode {
    eprintln!("kernel_echo: {msg}");
    ExitCode::from(1)
}

fn build(path: &Path) -> Result<LabHost, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec = HostSpec::from_toml(&text).map_err(|e| e.to_string())?;
    LabHost::build(&spec).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let host_arg = words
        .iter()
        .position(|w| *w == "--host")
        .and_then(|i| words.get(i + 1))
        .map(Path::new);
    match words.as_slice() {
        ["host", "dump", dir, "--netns", ns] => {
            if let Err(e) = fwdsim_lab::build::snapshot(ns, Path::new(dir)) {
                return fail(e.to_string());
            }
            match std::fs::write(Path::new(dir).join("netns"), ns) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e.to_string()),
            }
        }
        ["host", "show", ..] => {
            let Some(path) = host_arg else {
                return fail("no --host".into());
            };
            let lab = match build(path) {
                Ok(l) => l,
                Err(e) => return fail(e),
            };
            match lab.route_show() {
                Ok(v) => {
                    println!("{}", serde_json::json!({ "route": v }));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e.to_string()),
            }
        }
        ["route", "get", rest @ ..] => {
            let Some(path) = host_arg else {
                return fail("no --host".into());
            };
            let query: Vec<&str> = rest
                .iter()
                .take_while(|w| !w.starts_with("--") && **w != "-j")
                .copied()
                .collect();
            let mut ip = vec!["-j", "route", "get"];
            ip.extend(&query);
            let (out, _lab) = if path.is_dir() {
                let ns = match std::fs::read_to_string(path.join("netns")) {
                    Ok(n) => n,
                    Err(e) => return fail(format!("no netns file: {e}")),
                };
                let mut full = vec!["-n", ns.trim()];
                full.extend(&ip);
                (fwdsim_lab::netns::run_program("ip", &full), None)
            } else {
                let lab = match build(path) {
                    Ok(l) => l,
                    Err(e) => return fail(e),
                };
                (lab.ns.run(&ip), Some(lab))
            };
            let out = match out {
                Ok(o) => o,
                Err(e) => return fail(e.to_string()),
            };
            if out.status.success() {
                print!("{}", String::from_utf8_lossy(&out.stdout));
                return ExitCode::SUCCESS;
            }
            match Answer::from_kernel_stderr(&String::from_utf8_lossy(&out.stderr)) {
                Answer::Err(e) => {
                    println!(
                        "{}",
                        serde_json::json!({"errno": e.errno, "message": e.message, "drop_reason": null})
                    );
                    eprintln!("RTNETLINK answers: {}", e.message);
                    ExitCode::from(2)
                }
                Answer::Ok(_) => fail("unreachable".into()),
            }
        }
        _ => fail(format!("unsupported: {args:?}")),
    }
}
