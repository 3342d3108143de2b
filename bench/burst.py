"""Deadline burst: many submissions from concurrent clients against ``grader serve``, measured end to end.

    .venv/bin/python bench/burst.py [--submissions 300] [--clients 20] [--workers 2] [--pool 1]

A real ``grader serve --workers N`` (embedded Redis, Celery workers, uvicorn) grades the light bench suite
(``bench/suites/light``: two quick checks, each submission in its own bwrap sandbox). ``--clients``
students upload ``--submissions`` zips in total, all at once, each client as fast as its uploads return
(closed loop: the upload latency is then the queue of the other clients' uploads, Little's law). With
``--spread S`` the uploads are sent on a schedule instead, evenly over S seconds (open loop: what a
student sees when submissions arrive at that rate while the workers are saturated).

Reported, from the service's own records:
- drain time: first upload sent -> last report written;
- ideal drain: submissions x mean job time (started -> finished, in the worker) / workers, and the
  efficiency ideal / actual (target >= 95 %);
- lost (accepted but never graded) and duplicated (graded more than once, or listed twice): must be 0;
- upload latency p50 / p99 during the burst, as the clients saw it (target p99 <= 100 ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LIGHT_SUBMISSION, LIGHT_SUITE, header, quantile, service, upload, zip_folder  # noqa: E402
from grader.sandbox.pool import WARM_NOTE  # noqa: E402

ASSIGNMENT = "bench-light"


def _client(
    url: str, token: str, data: bytes, when: list[float], out: list[tuple[float, float, str]], errors: list[str]
) -> None:
    """Upload once per scheduled time (seconds since the epoch; 0: at once), or as soon as the last returns."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        for at in when:
            time.sleep(max(0.0, at - time.time()))
            sent = time.time()
            try:
                took, accepted = upload(client, ASSIGNMENT, data)
            except Exception as exc:  # noqa: BLE001 - counted and reported, the burst goes on
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            out.append((sent, took, accepted["id"]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", type=int, default=1, help="warm sandboxes per worker (0: cold starts)")
    parser.add_argument(
        "--nice", type=int, default=None, help="GRADER_WORKER_NICE for the workers (default: the setting's)"
    )
    parser.add_argument(
        "--warmup", type=float, default=5, help="seconds for the workers' pools to fill before the burst"
    )
    parser.add_argument(
        "--spread", type=float, default=0, help="send the uploads evenly over this many seconds (0: all at once)"
    )
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    header("Deadline burst", "bench/burst.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    data = zip_folder(LIGHT_SUBMISSION)
    env = {"GRADER_WARM_POOL__CPU": str(args.pool), "GRADER_RATE_LIMIT_COUNT": str(args.submissions + 1)}
    if args.nice is not None:
        env["GRADER_WORKER_NICE"] = str(args.nice)

    with service({"light": LIGHT_SUITE}, workers=args.workers, **env) as svc:
        tokens = svc.students(ASSIGNMENT, args.clients)
        ta = httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {svc.ta_token()}"}, timeout=120)
        time.sleep(args.warmup if args.pool else 0)  # the workers' pools fill, as they would before a deadline
        accepted: list[tuple[float, float, str]] = []
        errors: list[str] = []
        # Upload k goes to client k mod clients, at its slot of the schedule (all at once without --spread);
        # a schedule begins half a second out, so that every thread has started by then.
        burst_start = time.time() + (0.5 if args.spread else 0.0)
        slots = [burst_start + k * args.spread / args.submissions if args.spread else 0.0 for k in range(args.submissions)]
        threads = [
            threading.Thread(target=_client, args=(svc.url, tokens[i], data, slots[i :: args.clients], accepted, errors))
            for i in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        uploads_done = time.time()
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            listed = ta.get(f"/api/v1/assignments/{ASSIGNMENT}/submissions").json()["submissions"]
            if sum(s["state"] in ("done", "error") for s in listed) >= len(accepted):
                break
            time.sleep(1)
        records = [ta.get(f"/api/v1/submissions/{sub_id}").json() for _, _, sub_id in accepted]
        listed = ta.get(f"/api/v1/assignments/{ASSIGNMENT}/submissions").json()["submissions"]
        ta.close()
    if svc.orphans:
        errors.append(f"processes left behind after Ctrl-C: {svc.orphans}")

    def ts(value: str | None) -> float:
        return datetime.fromisoformat(value).timestamp() if value else float("nan")

    graded = [r for r in records if r["state"] == "done"]
    jobs = [ts(r["timestamps"]["finished"]) - ts(r["timestamps"]["started"]) for r in graded]
    finished = [ts(r["timestamps"]["finished"]) for r in records if r["timestamps"]["finished"]]
    ids = Counter(s["id"] for s in listed)
    lost = len(accepted) - len(graded)
    duplicated = (
        sum(r["attempts"] > 1 for r in records) + sum(n - 1 for n in ids.values()) + max(0, len(listed) - len(accepted))
    )
    full_marks = sum(1 for r in graded if r["report"] and r["report"]["score"] == r["report"]["max_score"])
    warm = sum(1 for r in graded if r["report"] and any(WARM_NOTE in s["notes"] for s in r["report"]["sandboxes"]))
    drain = max(finished) - burst_start if finished else float("nan")
    mean_job = statistics.mean(jobs) if jobs else float("nan")
    ideal = len(accepted) * mean_job / args.workers
    latencies = [took for _, took, _ in accepted]
    result = {
        "submissions": args.submissions,
        "accepted": len(accepted),
        "refused": len(errors),
        "graded": len(graded),
        "full_marks": full_marks,
        "from_warm_pool": warm,
        "lost": lost,
        "duplicated": duplicated,
        "upload_window_s": uploads_done - burst_start,
        "upload_p50_ms": quantile(latencies, 0.5) * 1000,
        "upload_p99_ms": quantile(latencies, 0.99) * 1000,
        "upload_max_ms": max(latencies, default=float("nan")) * 1000,
        # Uploads are served one after another, so a client waits for the others': p50 ~ clients x this.
        "api_ms_per_upload": (uploads_done - burst_start) / max(1, len(accepted)) * 1000,
        "mean_job_s": mean_job,
        "drain_s": drain,
        "ideal_drain_s": ideal,
        "efficiency": ideal / drain if drain else float("nan"),
        "throughput_per_min": len(graded) / drain * 60 if drain else float("nan"),
        "orphans": len(svc.orphans),
    }
    nice = "default" if args.nice is None else args.nice
    print(
        f"\n{args.submissions} submissions, {args.clients} clients, {args.workers} workers, warm pool {args.pool} per worker, worker nice {nice}, "
        + (f"spread over {args.spread:g} s" if args.spread else "all at once")
    )
    for key, value in result.items():
        print(f"{key:20} {value:10.3f}" if isinstance(value, float) else f"{key:20} {value:10}")
    for error in errors[:5]:
        print("error:", error)
    return result


if __name__ == "__main__":
    main()
