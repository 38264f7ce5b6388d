//! The documentation cannot rot: every ```console block in README.md and
//! docs/*.md is run. A line `$ fwdsim ARGS` is a command (run from the
//! repository root with `NO_COLOR=1`); the lines after it, up to the next
//! `$ ` line or the end of the block, are its output exactly (stdout, then
//! stderr). With `FWDSIM_BLESS=1` the pages are rewritten with what fwdsim
//! prints instead (review the diff before committing it).

use std::path::{Path, PathBuf};
use std::process::Command;

struct Example {
    file: PathBuf,
    line: usize,
    args: Vec<String>,
    expected: String,
}

fn examples(file: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    let mut in_block = false;
    let mut current: Option<Example> = None;
    for (i, l) in text.lines().enumerate() {
        if !in_block {
            in_block = l.trim_end() == "```console";
            continue;
        }
        let end = l.trim_end() == "```";
        if end || l.starts_with("$ ") {
            out.extend(current.take());
        }
        if end {
            in_block = false;
        } else if let Some(cmd) = l.strip_prefix("$ ") {
            let words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
            assert_eq!(
                words.first().map(String::as_str),
                Some("fwdsim"),
                "{}:{}: only fwdsim commands run here",
                file.display(),
                i + 1
            );
            current = Some(Example {
                file: file.to_path_buf(),
                line: i + 1,
                args: words[1..].to_vec(),
                expected: String::new(),
            });
        } else if let Some(c) = current.as_mut() {
            c.expected.push_str(l);
            c.expected.push('\n');
        }
    }
    out
}

/// Replaces the output under the command at `ex.line` with `got`.
fn bless(ex: &Example, got: &str) {
    let text = std::fs::read_to_string(&ex.file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let start = ex.line; // the line after the command (0-based index)
    let mut end = start;
    while end < lines.len() && !lines[end].starts_with("$ ") && lines[end].trim_end() != "```" {
        end += 1;
    }
    let mut out: Vec<&str> = lines[..start].to_vec();
    out.extend(got.lines());
    out.extend(&lines[end..]);
    let mut new = out.join("\n");
    new.push('\n');
    std::fs::write(&ex.file, new).unwrap();
}

fn doc_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    v.extend(docs);
    v
}

#[test]
fn every_console_example_in_the_docs_prints_what_it_shows() {
    let all: Vec<Example> = doc_files().iter().flat_map(|f| examples(f)).collect();
    assert!(all.len() >= 8, "only {} examples found", all.len());
    let mut failures = Vec::new();
    let mut to_bless: Vec<(&Example, String)> = Vec::new();
    for ex in &all {
        let o = Command::new(env!("CARGO_BIN_EXE_fwdsim"))
            .args(&ex.args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .unwrap();
        let got = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let norm = |s: &str| {
            s.lines()
                .map(str::trim_end)
                .collect::<Vec<_>>()
                .join("\n")
                .trim_end()
                .to_string()
        };
        if norm(&got) != norm(&ex.expected) && std::env::var_os("FWDSIM_BLESS").is_some() {
            to_bless.push((ex, norm(&got)));
        } else if norm(&got) != norm(&ex.expected) {
            failures.push(format!(
                "{}:{}: `fwdsim {}`\n--- the doc shows:\n{}\n--- fwdsim prints:\n{}",
                ex.file.display(),
                ex.line,
                ex.args.join(" "),
                ex.expected,
                got
            ));
        }
    }
    // Last example of a file first, so earlier line numbers stay right.
    to_bless.sort_by(|a, b| (&b.0.file, b.0.line).cmp(&(&a.0.file, a.0.line)));
    for (ex, got) in to_bless {
        bless(ex, &got);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The subcommands whose `--help` can hold examples.
const HELP_PATHS: &[&[&str]] = &[
    &["route", "get"],
    &["host", "dump"],
    &["host", "show"],
    &["replay"],
    &["explain"],
    &["doctor"],
    &["completions"],
    &["man"],
    &["sysctl", "origin"],
    &["sysctl", "get"],
    &["sysctl", "set"],
    &["trace"],
];

/// Copies a directory tree (the fixtures the examples name).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Every example of every `--help` runs: from a directory holding a copy of
/// fixtures/ (so examples that write leave the repository alone), each
/// exits 0, or the status its comment names ("exits 2"), and each says in
/// parentheses what it shows. A `> FILE` redirection takes stdout.
#[test]
fn every_help_example_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root.join("fixtures"), &dir.path().join("fixtures"));
    let bin = env!("CARGO_BIN_EXE_fwdsim");
    let mut ran = 0;
    for path in HELP_PATHS {
        let help = Command::new(bin)
            .args(*path)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        let examples = help
            .lines()
            .skip_while(|l| !l.starts_with("Example"))
            .skip(1)
            .take_while(|l| l.starts_with("  fwdsim "));
        for line in examples {
            let (cmd, what) = line.trim().split_once("   (").unwrap_or_else(|| {
                panic!(
                    "`{}` example does not say what it shows: {line}",
                    path.join(" ")
                )
            });
            let status: i32 = what
                .split_once("exits ")
                .and_then(|(_, n)| n.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let (cmd, out) = match cmd.split_once(" > ") {
                Some((c, f)) => (c, Some(f.trim())),
                None => (cmd, None),
            };
            let words: Vec<&str> = cmd.split_whitespace().skip(1).collect();
            let o = Command::new(bin)
                .args(&words)
                .current_dir(dir.path())
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            assert_eq!(
                o.status.code(),
                Some(status),
                "{line}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            if let Some(f) = out {
                assert!(!o.stdout.is_empty(), "{line}: nothing to write to {f}");
            }
            ran += 1;
        }
    }
    assert!(ran >= 15, "only {ran} examples ran");
}
