#!/usr/bin/env bash
# Instructions per FIB lookup and per forwarded packet, counted by
# callgrind (stable where wall-clock benchmarks are noisy). Each loop of
# examples/icount.rs runs twice, with N1 and N2 iterations over the same
# table and batch; (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one.
#
#   scripts/icount.sh            # 1M-prefix table
#   FWDSIM_ICOUNT_PREFIXES=100000 scripts/icount.sh
#
# Goals (issue 9): at most 25 instructions per lookup, 300 per forwarded
# packet.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
fi

cargo build --release --example icount --quiet
bin=target/release/examples/icount
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The total instructions (Ir) of one run of `icount MODE N`.
ir() {
  valgrind --tool=callgrind --callgrind-out-file="$out/$1.$2" "$bin" "$1" "$2" \
    >/dev/null 2>"$out/log"
  awk '/^(summary|totals):/ { print $2; exit }' "$out/$1.$2"
}

per() {
  local mode=$1 n1=$2 n2=$3 goal=$4 what=$5
  local a b
  a=$(ir "$mode" "$n1")
  b=$(ir "$mode" "$n2")
  awk -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" -v goal="$goal" -v what="$what" \
    'BEGIN { x = (b - a) / (n2 - n1);
             printf "%-28s %8.1f instructions (goal <= %d: %s)\n", what, x, goal, (x <= goal ? "met" : "not met") }'
}

echo "table: ${FWDSIM_ICOUNT_PREFIXES:-1000000} prefixes ($(nproc) cores, $(valgrind --version))"
per lookup 100000 1100000 25 "per Lpm::lookup"
per forward 20000 220000 300 "per forwarded packet"
