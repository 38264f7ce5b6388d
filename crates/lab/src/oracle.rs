//! The kernel oracle: `ip -n NS -j route get ...`, many queries per process.
//!
//! All queries of a host go to one `ip -n NS -j -force -batch -`. Successful
//! commands print one JSON array each on stdout, in order; a failed command
//! prints its error and then `Command failed -:N` (N = 1-based line) on
//! stderr. The failed line numbers therefore tell which queries the stdout
//! arrays belong to, whatever the interleaving of the two streams. The split
//! is checked (counts, and each array's `dst` against its query); if it does
//! not add up, every query is asked again with its own `ip` process.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::answer::Answer;
use crate::build::LabHost;
use crate::error::{LabError, Result};
use crate::netns::Netns;
use crate::query::Query;

/// How many batches could not be split and were asked again query by
/// query (reported in the run summary; expected 0).
pub static BATCH_FALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// Asks the kernel of `ns` every query; one answer per query, in order.
pub fn kernel_answers(ns: &Netns, queries: &[Query]) -> Result<Vec<Answer>> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    match batch(ns, queries)? {
        Some(answers) => Ok(answers),
        None => {
            BATCH_FALLBACKS.fetch_add(1, Ordering::Relaxed);
            queries.iter().map(|q| kernel_answer(ns, q)).collect()
        }
    }
}

/// Asks the kernel one query with its own `ip` process.
pub fn kernel_answer(ns: &Netns, q: &Query) -> Result<Answer> {
    let args = q.args();
    let mut full = vec!["-j", "route", "get"];
    full.extend(args.iter().map(String::as_str));
    let out = ns.run(&full)?;
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        Answer::from_kernel_json(&text).ok_or_else(|| LabError::Parse {
            what: format!("ip -j route get {q}"),
            msg: format!("unexpected output {text:?}"),
        })
    } else {
        Ok(Answer::from_kernel_stderr(&String::from_utf8_lossy(
            &out.stderr,
        )))
    }
}

/// One batch run; `None` when its output cannot be split reliably.
fn batch(ns: &Netns, queries: &[Query]) -> Result<Option<Vec<Answer>>> {
    let mut input = String::new();
    for q in queries {
        input.push_str("route get ");
        input.push_str(&q.to_string());
        input.push('\n');
    }
    let cmd = format!("ip -n {} -j -force -batch -", ns.name());
    let mut child = Command::new("ip")
        .args(["-n", ns.name(), "-j", "-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| LabError::Spawn {
            cmd: cmd.clone(),
            source,
        })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        let r = stdin.write_all(input.as_bytes());
        drop(stdin);
        r
    });
    let out = child.wait_with_output().map_err(|source| LabError::Spawn {
        cmd: cmd.clone(),
        source,
    })?;
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    // Failed lines and their messages.
    let mut failed: Vec<Option<Answer>> = vec![None; queries.len()];
    let mut pending = String::new();
    let mut nfailed = 0;
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("Command failed ") {
            let Some(n) = rest
                .rsplit(':')
                .next()
                .and_then(|n| n.trim().parse::<usize>().ok())
            else {
                return Ok(None);
            };
            if n == 0 || n > queries.len() || failed[n - 1].is_some() {
                return Ok(None);
            }
            failed[n - 1] = Some(Answer::from_kernel_stderr(&pending));
            nfailed += 1;
            pending.clear();
        } else {
            pending.push_str(line);
            pending.push('\n');
        }
    }

    // The JSON arrays of the successful lines, in order.
    let mut arrays = Vec::new();
    for v in serde_json::Deserializer::from_str(&stdout).into_iter::<Value>() {
        match v {
            Ok(v) => arrays.push(v),
            Err(_) => return Ok(None),
        }
    }
    if arrays.len() + nfailed != queries.len() {
        return Ok(None);
    }
    let mut arrays = arrays.into_iter();
    let mut answers = Vec::with_capacity(queries.len());
    for (q, f) in queries.iter().zip(failed) {
        match f {
            Some(a) => answers.push(a),
            None => {
                let v = arrays.next().expect("counted above");
                let Some(a) = Answer::from_kernel_json(&v.to_string()) else {
                    return Ok(None);
                };
                if let Answer::Ok(r) = &a
                    && r.dst.as_deref() != Some(q.dst.to_string().as_str())
                {
                    return Ok(None);
                }
                answers.push(a);
            }
        }
    }
    Ok(Some(answers))
}

impl LabHost {
    /// Asks the host's kernel every query (see [`kernel_answers`]).
    pub fn ask(&self, queries: &[Query]) -> Result<Vec<Answer>> {
        kernel_answers(&self.ns, queries)
    }
}
