#!/usr/bin/env bash
# Every benchmark of docs/BENCHMARKS.md, one after another, each printing its own table (run on a quiet machine).
#
#   bench/run_all.sh [OUT_DIR]      (default /tmp/grader-bench-results)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/grader-bench-results}"
mkdir -p "$OUT"
PY=.venv/bin/python
bench/otter_env.sh >/dev/null
$PY bench/suites.py --mutants 2 --rounds 3 --memory --otter | tee "$OUT/suites.txt"
$PY bench/reexec.py --repeat 3 --handout-questions 2 | tee "$OUT/reexec.txt"
$PY bench/uploads.py | tee "$OUT/uploads.txt"
$PY bench/overhead.py --suite light --repeat 5 | tee "$OUT/overhead_light.txt"
$PY bench/burst.py --submissions 300 --clients 20 --workers 2 --pool 1 | tee "$OUT/burst.txt"
$PY bench/sandbox_overhead.py --repeat 7 | tee "$OUT/sandbox_overhead.txt"
$PY bench/rpc.py | tee "$OUT/rpc.txt"
$PY bench/deadline.py --submissions 400 --workers 2 --minutes 10 | tee "$OUT/deadline.txt"
