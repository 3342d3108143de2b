"""A class at the deadline: real suites' references and mutants uploaded by distinct students over M minutes.

    .venv/bin/python bench/deadline.py [--submissions 400] [--workers 2] [--minutes 10]
                                       [--suites minbert,csc413_a3,gsds_a4,cs224n_a5] [--mutants 2] [--seed 0]

A real ``grader serve --workers W`` (its default warm pool) grades ``--submissions`` uploads, one per
student, spread evenly over ``--minutes`` in a shuffled mix of the suites' references and first
``--mutants`` mutants (bench/suites.py builds them). Reported from the service's own records:
- lost (accepted, never graded), duplicated (graded twice, listed twice), errors (graded as error);
- per-suite cost: median job time (started -> finished in the worker) in this run;
- drain: first upload -> last report; ideal: the same arrivals on W servers that take jobs first come first
  served at exactly the per-suite cost (no gaps, no contention); efficiency = ideal / drain;
- the projected time to drain 400 and 1,000 students (one submission each, this mix) with 2, 8 and 32
  workers: students x mean cost / (workers x efficiency), each worker with the share of a core it had here.
"""

from __future__ import annotations

import argparse
import heapq
import random
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import header, listing, service, traversable_dir  # noqa: E402
from bench.suites import ROOT, SUITES, assignment_id, zips  # noqa: E402
from grader.sandbox.pool import WARM_NOTE  # noqa: E402
from tests.utils.builders import SHARED_ENVS  # noqa: E402

PROJECTED = ((400, 1000), (2, 8, 32))


def ideal_drain(arrivals: list[tuple[float, float]], workers: int) -> float:
    """Makespan of (arrival s, cost s) jobs on ``workers`` servers, first come first served, from t = 0."""
    free = [0.0] * workers
    end = 0.0
    for arrival, cost in sorted(arrivals):
        start = max(arrival, heapq.heappop(free))
        heapq.heappush(free, start + cost)
        end = max(end, start + cost)
    return end


def _ts(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else float("nan")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--suites", default=",".join(SUITES))
    parser.add_argument("--mutants", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=7200, help="seconds to wait for the last report")
    args = parser.parse_args(argv)
    header(
        "A class at the deadline, real suites",
        "bench/deadline.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    )
    suites = [s for s in args.suites.split(",") if s]
    work = traversable_dir("grader-bench-deadline-")
    try:
        variants = [(suite, label, data) for suite in suites for label, data in zips(suite, args.mutants, work)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rng = random.Random(args.seed)
    plan = [variants[k % len(variants)] for k in range(args.submissions)]
    rng.shuffle(plan)
    per_suite = Counter(suite for suite, _, _ in plan)
    links = {suite: ROOT / "test_suites" / suite for suite in suites}
    # Both queues, as grader serve's default: CS224N (queue gpu, fallback cpu) is then graded, and kept warm, on gpu.
    env = {"GRADER_ENVS_DIR": str(SHARED_ENVS), "GRADER_RATE_LIMIT_COUNT": "10000", "GRADER_WORKER_QUEUES": "cpu,gpu"}
    accepted: list[tuple[str, str, float]] = []  # (suite, id, sent)
    errors: list[str] = []
    lock = threading.Lock()
    with service(links, workers=args.workers, **env) as svc:
        tokens = {suite: iter(svc.students(assignment_id(suite), per_suite[suite], prefix=suite)) for suite in suites}
        jobs = [(suite, next(tokens[suite]), data) for suite, _, data in plan]
        start = time.time() + 1.0

        def send(k: int) -> None:
            suite, token, data = jobs[k]
            time.sleep(max(0.0, start + k * args.minutes * 60 / max(1, len(jobs)) - time.time()))
            sent = time.time()
            try:
                answer = httpx.post(
                    f"{svc.url}/api/v1/assignments/{assignment_id(suite)}/submissions",
                    timeout=120,
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": ("submission.zip", data, "application/zip")},
                )
                if answer.status_code != 202:
                    raise RuntimeError(f"{answer.status_code} {answer.text[:200]}")
                with lock:
                    accepted.append((suite, str(answer.json()["id"]), sent))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(send, range(len(jobs))))
        ta = httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {svc.ta_token()}"}, timeout=120)
        deadline = time.monotonic() + args.timeout
        while True:
            listed = [s for suite in suites for s in listing(ta, assignment_id(suite))]
            if sum(s["state"] in ("done", "error") for s in listed) >= len(accepted) or time.monotonic() > deadline:
                break
            time.sleep(1)
        records = {sub_id: ta.get(f"/api/v1/submissions/{sub_id}").json() for _, sub_id, _ in accepted}
        ta.close()
    if svc.orphans:
        errors.append(f"processes left behind after Ctrl-C: {svc.orphans}")

    done = {k: r for k, r in records.items() if r["state"] == "done"}
    ids = Counter(s["id"] for s in listed)
    duplicated = (
        sum(r["attempts"] > 1 for r in records.values())
        + sum(n - 1 for n in ids.values())
        + max(0, len(listed) - len(accepted))
    )
    cost: dict[str, float] = {}
    for suite in suites:
        times = [
            _ts(r["timestamps"]["finished"]) - _ts(r["timestamps"]["started"])
            for (s, k, _) in accepted
            if s == suite and (r := done.get(k))
        ]
        cost[suite] = statistics.median(times) if times else float("nan")
    first = min((sent for _, _, sent in accepted), default=float("nan"))
    last = max(
        (_ts(r["timestamps"]["finished"]) for r in records.values() if r["timestamps"]["finished"]),
        default=float("nan"),
    )
    drain = last - first
    ideal = ideal_drain([(sent - first, cost[suite]) for suite, _, sent in accepted], args.workers)
    efficiency = ideal / drain if drain > 0 else float("nan")
    mean_cost = statistics.mean(cost[suite] for suite, _, _ in accepted) if accepted else float("nan")
    warm = sum(
        any(WARM_NOTE in s["notes"] for s in (r["report"] or {}).get("sandboxes", [])[:1]) for r in done.values()
    )
    result: dict[str, Any] = {
        "submissions": args.submissions,
        "accepted": len(accepted),
        "refused": len(errors),
        "graded": len(done),
        "graded_error": sum(r["state"] == "error" for r in records.values()),
        "lost": len(accepted) - len(done),
        "duplicated": duplicated,
        "from_warm_pool": warm,
        "upload_window_s": args.minutes * 60,
        "drain_s": drain,
        "ideal_drain_s": ideal,
        "efficiency": efficiency,
        "mean_cost_s": mean_cost,
        **{f"cost_{suite}_s": c for suite, c in cost.items()},
    }
    for students in PROJECTED[0]:
        for workers in PROJECTED[1]:
            result[f"projected_{students}_students_{workers}_workers_min"] = (
                students * mean_cost / (workers * efficiency) / 60
            )
    print(f"\n{args.submissions} submissions ({dict(per_suite)}), {args.workers} workers, over {args.minutes:g} min")
    for key, value in result.items():
        print(f"{key:42} {value:10.3f}" if isinstance(value, float) else f"{key:42} {value:10}")
    for error in errors[:5]:
        print("error:", error)
    return result


if __name__ == "__main__":
    main()
