#!/usr/bin/env bash
# Every benchmark of docs/BENCHMARKS.md, one after another, each printing its own table (run on a quiet machine).
#
#   bench/run_all.sh [OUT_DIR]      (default /tmp/grader-bench-results)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/grader-bench-results}"
mkdir -p "$OUT"
PY=.venv/bin/python
$PY bench/sandbox_overhead.py --repeat 7 | tee "$OUT/sandbox_overhead.txt"
$PY bench/rpc.py | tee "$OUT/rpc.txt"
$PY bench/overhead.py --suite light --repeat 5 | tee "$OUT/overhead_light.txt"
$PY bench/overhead.py --suite cs224n --repeat 3 | tee "$OUT/overhead_cs224n.txt"
$PY bench/burst.py --submissions 300 --clients 20 --workers 2 --pool 1 | tee "$OUT/burst.txt"
$PY bench/otter_compare.py --repeat 3 | tee "$OUT/otter.txt"
