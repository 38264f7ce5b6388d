//! `fwdsim replay CAPTURE --host SNAPDIR --iif r0 -j --out EGRESS.pcapng`
//! as shared/interfaces.md §3 specifies it: one JSON object per packet
//! (`index`, `verdict`, `drop_reason`, `icmp`...), then `{"snmp": {...}}`;
//! every frame that left the host in the pcapng, stamped with the input
//! packet's time, on an interface named after the device.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::packet::capture::{EgressFrame, read_egress};
use crate::packet::snmp::{self, Counters};

/// The longest one replay may run before it is killed and reported.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);

/// The start of [`replay_with`]'s error when fwdsim does not know an
/// argument (clap's "unexpected argument").
pub const UNKNOWN_ARGUMENT: &str = "fwdsim does not know an argument";

/// fwdsim's account of one packet.
#[derive(Clone, Debug, PartialEq)]
pub struct PacketOut {
    /// `index` (1-based).
    pub index: u64,
    /// `verdict`: `forward`, `local` or `drop`.
    pub verdict: String,
    /// `drop_reason`, without the prefix.
    pub drop_reason: Option<String>,
    /// `icmp`: type and code of the ICMP error sent back.
    pub icmp: Option<(u8, u8)>,
    /// The whole object, for reports.
    pub json: Value,
}

/// One whole replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayRun {
    /// Per packet, in capture order.
    pub packets: Vec<PacketOut>,
    /// The final counters object.
    pub snmp: Counters,
    /// The egress frames.
    pub egress: Vec<EgressFrame>,
    /// What fwdsim wrote on stderr (warnings), trimmed.
    pub stderr: String,
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(400) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Runs `bin ARGS` with its output in files under `dir`, killed after
/// [`TIME_LIMIT`]; returns (exit code, stdout, stderr).
fn run_limited(
    bin: &Path,
    args: &[&str],
    dir: &Path,
) -> std::result::Result<(Option<i32>, String, String), String> {
    let (out_p, err_p) = (dir.join("replay.stdout"), dir.join("replay.stderr"));
    let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file(&out_p)?)
        .stderr(file(&err_p)?)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > TIME_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`fwdsim {}` did not finish within {}s (killed)",
                    args.join(" "),
                    TIME_LIMIT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("waiting for fwdsim: {e}")),
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Ok((status.code(), read(&out_p), read(&err_p)))
}

/// Parses `-j` output: `n` packet objects then the `snmp` object.
pub fn parse_output(
    stdout: &str,
    n: usize,
) -> std::result::Result<(Vec<PacketOut>, Counters), String> {
    let mut packets = Vec::new();
    let mut snmp_obj = None;
    for (i, line) in stdout
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("line {} is not JSON ({e}): {}", i + 1, clip(line)))?;
        if let Some(s) = v.get("snmp") {
            snmp_obj = Some(snmp::from_json(s).ok_or_else(|| {
                format!("line {}: \"snmp\" is not {{group: {{name: n}}}}", i + 1)
            })?);
            continue;
        }
        if snmp_obj.is_some() {
            return Err(format!("line {}: a packet after the snmp object", i + 1));
        }
        let index = v
            .get("index")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("line {}: no \"index\"", i + 1))?;
        let verdict = v
            .get("verdict")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("line {}: no \"verdict\"", i + 1))?
            .to_string();
        let drop_reason = match v.get("drop_reason") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(x) => return Err(format!("line {}: drop_reason {x}", i + 1)),
        };
        let icmp = match v.get("icmp") {
            None | Some(Value::Null) => None,
            Some(o) => {
                let t = o.get("type").and_then(Value::as_u64);
                let c = o.get("code").and_then(Value::as_u64);
                match (t, c) {
                    (Some(t), Some(c)) if t < 256 && c < 256 => Some((t as u8, c as u8)),
                    _ => return Err(format!("line {}: icmp {o}", i + 1)),
                }
            }
        };
        packets.push(PacketOut {
            index,
            verdict,
            drop_reason,
            icmp,
            json: v,
        });
    }
    let snmp = snmp_obj.ok_or("no {\"snmp\": ...} line at the end")?;
    if packets.len() != n {
        return Err(format!("{} packet lines for {n} packets", packets.len()));
    }
    for (i, p) in packets.iter().enumerate() {
        if p.index != i as u64 + 1 {
            return Err(format!("packet line {} has index {}", i + 1, p.index));
        }
    }
    Ok((packets, snmp))
}

/// `fwdsim replay CAPTURE --host HOST --iif r0 -j --out DIR/egress.pcapng`
/// for a capture of `n` packets.
pub fn replay(
    bin: &Path,
    capture: &Path,
    host: &Path,
    dir: &Path,
    n: usize,
) -> std::result::Result<ReplayRun, String> {
    replay_with(bin, capture, host, dir, n, &["--iif", "r0"])
}

/// `fwdsim replay CAPTURE --host HOST EXTRA... -j --out DIR/egress.pcapng`
/// for a capture of `n` packets (EXTRA: `--iif DEV`, `--save-counters
/// FILE`, or nothing when the capture names the devices).
pub fn replay_with(
    bin: &Path,
    capture: &Path,
    host: &Path,
    dir: &Path,
    n: usize,
    extra: &[&str],
) -> std::result::Result<ReplayRun, String> {
    let out = dir.join("egress.pcapng");
    let _ = std::fs::remove_file(&out);
    let (c, h, o) = (
        capture.display().to_string(),
        host.display().to_string(),
        out.display().to_string(),
    );
    let mut args = vec!["replay", c.as_str(), "--host", h.as_str()];
    args.extend_from_slice(extra);
    args.extend(["-j", "--out", o.as_str()]);
    let (code, stdout, stderr) = run_limited(bin, &args, dir)?;
    if code != Some(0) && stderr.contains("unexpected argument") {
        return Err(format!(
            "{UNKNOWN_ARGUMENT}: `fwdsim {}`: {}",
            args.join(" "),
            clip(&stderr)
        ));
    }
    if code != Some(0) {
        return Err(format!(
            "`fwdsim {}` exited {code:?}: stderr {:?}, stdout {:?}",
            args.join(" "),
            clip(&stderr),
            clip(&stdout)
        ));
    }
    let (packets, snmp) = parse_output(&stdout, n)
        .map_err(|e| format!("`fwdsim replay -j` output does not follow interfaces.md §3: {e}"))?;
    let egress = read_egress(&out)?;
    Ok(ReplayRun {
        packets,
        snmp,
        egress,
        stderr: clip(&stderr),
    })
}

/// The counters of replaying only the first `k` packets, for each `k` in
/// `ks`: the per-packet deltas of fwdsim, when its totals disagree with
/// the kernel's (the `-j` output has totals only).
pub fn prefix_counters(
    bin: &Path,
    probes: &[crate::packet::frames::Probe],
    host: &Path,
    dir: &Path,
    ks: &[usize],
) -> std::result::Result<Vec<Counters>, String> {
    let mut out = Vec::new();
    for &k in ks {
        let cap = dir.join(format!("prefix-{k}.pcap"));
        crate::packet::capture::write_pcap(&cap, &probes[..k]).map_err(|e| e.to_string())?;
        let run = replay(bin, &cap, host, dir, k)?;
        out.push(run.snmp);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract() {
        let s = r#"{"index": 1, "iif": "r0", "verdict": "drop", "drop_reason": "IP_CSUM", "route": null, "icmp": null}
{"index": 2, "iif": "r0", "verdict": "forward", "drop_reason": null, "route": {"type": "unicast", "dev": "r1"}, "icmp": {"type": 5, "code": 1}}
{"snmp": {"Ip": {"InReceives": 2}}}
"#;
        let (p, c) = parse_output(s, 2).unwrap();
        assert_eq!(p[0].drop_reason.as_deref(), Some("IP_CSUM"));
        assert_eq!(p[1].icmp, Some((5, 1)));
        assert_eq!(c["Ip"]["InReceives"], 2);
        assert!(parse_output(s, 3).unwrap_err().contains("2 packet lines"));
        assert!(parse_output("{\"index\": 1}\n", 1).is_err());
    }
}
