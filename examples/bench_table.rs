//! Turns criterion's results under `target/criterion` into the tables of
//! docs/performance.md and copies each group's violin plot (criterion's own
//! report) to `docs/perf/GROUP.svg`: `scripts/bench-report.sh` runs it
//! after `cargo bench`. One row per benchmark: the median time per
//! iteration, per element where the bench declares a throughput, and
//! elements per second.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One benchmark's result.
struct Row {
    function: String,
    median_ns: f64,
    elements: Option<f64>,
}

fn read_json(p: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

/// Every `.../new/benchmark.json` under `dir`.
fn results(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "report") {
                continue;
            }
            if p.file_name().is_some_and(|n| n == "new") {
                let b = p.join("benchmark.json");
                if b.is_file() {
                    out.push(b);
                }
            } else {
                results(&p, out);
            }
        }
    }
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn human_rate(r: f64) -> String {
    if r >= 1e9 {
        format!("{:.2} G/s", r / 1e9)
    } else if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k/s", r / 1e3)
    } else {
        format!("{r:.1} /s")
    }
}

fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/criterion".into()),
    );
    let plots = PathBuf::from(
        std::env::args()
            .nth(2)
            .unwrap_or_else(|| "docs/perf".into()),
    );
    let mut files = Vec::new();
    results(&root, &mut files);
    if files.is_empty() {
        eprintln!(
            "bench_table: no criterion results under {} (run cargo bench first)",
            root.display()
        );
        std::process::exit(1);
    }
    let mut groups: BTreeMap<String, (PathBuf, Vec<Row>)> = BTreeMap::new();
    for b in files {
        let dir = b.parent().expect("new/").to_path_buf();
        let (Some(bench), Some(est)) = (read_json(&b), read_json(&dir.join("estimates.json")))
        else {
            eprintln!("bench_table: {}: unreadable, skipped", b.display());
            continue;
        };
        let group = bench["group_id"].as_str().unwrap_or("?").to_string();
        let mut function = bench["function_id"].as_str().unwrap_or("").to_string();
        if let Some(v) = bench["value_str"].as_str() {
            function = format!("{function}/{v}");
        }
        let elements = bench["throughput"]["Elements"].as_f64();
        let median_ns = est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
        // target/criterion/GROUP/FUNCTION[/VALUE]/new: the group's report
        // is the directory named after the group.
        let group_dir = root.join(group.replace('/', "_"));
        groups
            .entry(group)
            .or_insert_with(|| (group_dir, Vec::new()))
            .1
            .push(Row {
                function,
                median_ns,
                elements,
            });
    }
    let _ = std::fs::create_dir_all(&plots);
    for (group, (dir, mut rows)) in groups {
        rows.sort_by(|a, b| a.function.cmp(&b.function));
        println!("### {group}\n");
        println!("| benchmark | median per iteration | per element | elements/s |");
        println!("|---|---|---|---|");
        for r in &rows {
            let (per, rate) = match r.elements {
                Some(n) if n > 0.0 => {
                    (human_ns(r.median_ns / n), human_rate(n * 1e9 / r.median_ns))
                }
                _ => ("".into(), "".into()),
            };
            println!(
                "| {} | {} | {per} | {rate} |",
                r.function,
                human_ns(r.median_ns)
            );
        }
        let violin = dir.join("report/violin.svg");
        if violin.is_file() {
            let name = format!("{}.svg", group.replace('/', "_"));
            if std::fs::copy(&violin, plots.join(&name)).is_ok() {
                println!("\n![{group}](perf/{name})");
            }
        }
        println!();
    }
}
