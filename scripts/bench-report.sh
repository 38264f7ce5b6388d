#!/usr/bin/env bash
# Runs every criterion benchmark (or those named: scripts/bench-report.sh
# fib_lookup load), then prints the tables of docs/performance.md and
# copies each group's violin plot to docs/perf/. The instruction counts
# come from scripts/icount.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
  cargo bench --locked
else
  for b in "$@"; do cargo bench --locked --bench "$b"; done
fi
cargo run --release --quiet --example bench_table -- target/criterion docs/perf
