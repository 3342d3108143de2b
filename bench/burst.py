"""Deadline burst: many submissions from concurrent clients against ``grader serve``, measured end to end.

    .venv/bin/python bench/burst.py [--submissions 300] [--clients 20] [--workers 2] [--pool 1]

A real ``grader serve --workers N`` (embedded Redis, Celery workers, uvicorn) grades the light bench suite
(``bench/suites/light``: two quick checks, each submission in its own bwrap sandbox). ``--clients``
students upload ``--submissions`` zips in total, all at once, each client as fast as its uploads return
(closed loop: the upload latency is then the queue of the other clients' uploads, Little's law). The
clients are threads spread over ``--client-processes`` processes, and the service has first taken and
graded ``--warmup-uploads`` uploads (one per client), as a service that has been up for a while has. With
``--spread S`` the uploads are sent on a schedule instead, evenly over S seconds (open loop: what a
student sees when submissions arrive at that rate while the workers are saturated).

Reported, from the service's own records:
- drain time: first upload sent -> last report written;
- ideal drain: submissions x mean job time (started -> finished, in the worker) / workers, and the
  efficiency ideal / actual (target >= 95 %);
- lost (accepted but never graded) and duplicated (graded more than once, or listed twice): must be 0;
- upload latency p50 / p99 during the burst, as the clients saw it (target p99 <= 100 ms);
- with ``--rounds N``, N such bursts at one service a few seconds apart (the workers still grading the
  earlier ones): each round's p50 / p99 and the median of the p99s, the figure to compare on a noisy VM;
- who had the machine's cores while the uploads were served (API, grading, workers, Redis, these
  clients), and the part of its ready time the API's event loops spent waiting for a core.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LIGHT_SUBMISSION, LIGHT_SUITE, Uploader, header, listing, quantile, service, zip_folder  # noqa: E402
from bench.cpu_split import CpuSplit, CpuWindow  # noqa: E402
from grader.sandbox.pool import WARM_NOTE  # noqa: E402

ASSIGNMENT = "bench-light"


def _client(uploader: Uploader, when: list[float], out: list[tuple[float, float, str]], errors: list[str]) -> None:
    """Upload once per scheduled time (seconds since the epoch; 0: at once), or as soon as the last returns."""
    for at in when:
        time.sleep(max(0.0, at - time.time()))
        sent = time.time()
        try:
            took, sub_id = uploader.upload()
        except Exception as exc:  # noqa: BLE001 - counted and reported, the burst goes on
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        out.append((sent, took, sub_id))
    uploader.connection.close()


def _clients_in_processes(
    port: int, tokens: list[str], data: bytes, keep_alive: bool, schedules: list[list[float]], processes: int
) -> tuple[list[tuple[float, float, str]], list[str]]:
    """Run client k (thread) in process k mod ``processes``; every upload's (sent, took, id) and the errors.

    Twenty students are twenty machines: one load-generating process for all of them would measure its
    own interpreter lock as well (responses wait for the thread that reads them)."""
    processes = max(1, min(processes, len(tokens)))
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[tuple[list[tuple[float, float, str]], list[str]]] = context.Queue()

    def run(first: int) -> None:
        accepted: list[tuple[float, float, str]] = []
        errors: list[str] = []
        threads = [
            threading.Thread(
                target=_client,
                args=(
                    Uploader(port, f"/api/v1/assignments/{ASSIGNMENT}/submissions", tokens[i], data, keep_alive),
                    schedules[i],
                    accepted,
                    errors,
                ),
            )
            for i in range(first, len(tokens), processes)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.put((accepted, errors))

    children = [context.Process(target=run, args=(k,)) for k in range(processes)]
    for child in children:
        child.start()
    accepted: list[tuple[float, float, str]] = []
    errors: list[str] = []
    for _ in children:
        got, failed = results.get()
        accepted += got
        errors += failed
    for child in children:
        child.join()
    return accepted, errors


def _wait_graded(ta: httpx.Client, count: int, timeout: float) -> list[dict[str, Any]]:
    """Poll the TA listing until ``count`` submissions are done (or failed); the listing."""
    deadline = time.monotonic() + timeout
    while True:
        listed = listing(ta, ASSIGNMENT)
        if sum(s["state"] in ("done", "error") for s in listed) >= count or time.monotonic() > deadline:
            return listed
        time.sleep(1)


@dataclass
class _Round:
    """One burst: when it began, its accepted uploads (sent, took, id), its errors, the cores' split."""

    start: float
    accepted: list[tuple[float, float, str]]
    errors: list[str]
    cpu: CpuSplit

    @property
    def window(self) -> float:
        """First upload sent to last answer received."""
        return max([sent + took for sent, took, _ in self.accepted], default=self.start) - self.start

    def quantile_ms(self, q: float) -> float:
        return quantile([took for _, took, _ in self.accepted], q) * 1000


def _burst(args: argparse.Namespace, port: int, tokens: list[str], data: bytes) -> _Round:
    """Send ``args.submissions`` uploads, all at once or on the ``--spread`` schedule."""
    # Upload k goes to client k mod clients, at its slot of the schedule (all at once without --spread);
    # a schedule begins half a second out, so that every process and thread has started by then.
    start = time.time() + (0.5 if args.spread else 0.0)
    slots = [start + k * args.spread / args.submissions if args.spread else 0.0 for k in range(args.submissions)]
    cpu = CpuWindow()
    cpu.start()
    accepted, errors = _clients_in_processes(
        port,
        tokens,
        data,
        args.keep_alive,
        [slots[i :: args.clients] for i in range(args.clients)],
        args.client_processes,
    )
    split = cpu.stop()
    if not args.spread:
        start = min([sent for sent, _, _ in accepted], default=start)
    return _Round(start, accepted, errors, split)


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
    parser.add_argument(
        "--keep-alive", action="store_true", help="each client sends all its uploads over one connection"
    )
    parser.add_argument("--api-processes", type=int, default=None, help="GRADER_API_PROCESSES (default: the setting's)")
    parser.add_argument(
        "--client-processes",
        type=int,
        default=4,
        help="processes the clients' threads are spread over (1: one process)",
    )
    parser.add_argument(
        "--warmup-uploads",
        type=int,
        default=None,
        help="uploads (one per client, in turn) sent and graded before the burst, as a service that has been up "
        "for a while has served some (default: one per client; 0: none)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="bursts sent at one service, --round-gap s apart; each round's p99 is reported, and their median "
        "(this VM's p99 moves ~30 %% from minute to minute: compare medians, not single runs)",
    )
    parser.add_argument("--round-gap", type=float, default=4, help="seconds between rounds")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    header("Deadline burst", "bench/burst.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    data = zip_folder(LIGHT_SUBMISSION)
    env = {"GRADER_WARM_POOL__CPU": str(args.pool), "GRADER_RATE_LIMIT_COUNT": str(args.submissions + 1)}
    for name, value in (("WORKER_NICE", args.nice), ("API_PROCESSES", args.api_processes)):
        if value is not None:
            env[f"GRADER_{name}"] = str(value)

    with service({"light": LIGHT_SUITE}, workers=args.workers, **env) as svc:
        tokens = svc.students(ASSIGNMENT, args.clients)
        ta = httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {svc.ta_token()}"}, timeout=120)
        time.sleep(args.warmup if args.pool else 0)  # the workers' pools fill, as they would before a deadline
        # A service that has been up for a while has connections open and code paths warm; so has this one.
        warmups = args.clients if args.warmup_uploads is None else args.warmup_uploads
        warm_ids: set[str] = set()
        if warmups:
            done, failed = _clients_in_processes(
                svc.port,
                tokens,
                data,
                False,
                [[0.0] * (warmups // args.clients + (i < warmups % args.clients)) for i in range(args.clients)],
                args.client_processes,
            )
            if failed:
                raise RuntimeError(f"warm-up uploads failed: {failed[:3]}")
            warm_ids = {sub_id for _, _, sub_id in done}
            _wait_graded(ta, len(done), args.timeout)
            time.sleep(args.warmup if args.pool else 0)  # and the pools refill
        rounds: list[_Round] = []
        for number in range(args.rounds):
            time.sleep(args.round_gap if number else 0)  # the workers keep grading the earlier rounds meanwhile
            rounds.append(_burst(args, svc.port, tokens, data))
        accepted = [upload for r in rounds for upload in r.accepted]
        errors = [error for r in rounds for error in r.errors]
        burst_start = rounds[0].start
        listed = _wait_graded(ta, warmups + len(accepted), args.timeout)
        records = [ta.get(f"/api/v1/submissions/{sub_id}").json() for _, _, sub_id in accepted]
        listed = [s for s in listed if s["id"] not in warm_ids]
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
    upload_window = sum(r.window for r in rounds)
    # The rounds' windows are of similar length, so a plain mean of their shares is the share over all of them.
    cpu = {key: statistics.mean(r.cpu.as_dict()[key] for r in rounds) for key in rounds[0].cpu.as_dict()}
    result = {
        "submissions": args.submissions,
        "accepted": len(accepted),
        "refused": len(errors),
        "graded": len(graded),
        "full_marks": full_marks,
        "from_warm_pool": warm,
        "lost": lost,
        "duplicated": duplicated,
        "upload_window_s": upload_window,
        "upload_p50_ms": quantile(latencies, 0.5) * 1000,
        "upload_p99_ms": quantile(latencies, 0.99) * 1000,
        "round_p99_median_ms": statistics.median(r.quantile_ms(0.99) for r in rounds),
        "upload_max_ms": max(latencies, default=float("nan")) * 1000,
        # Uploads are served one after another, so a client waits for the others': p50 ~ clients x this.
        "api_ms_per_upload": upload_window / max(1, len(accepted)) * 1000,
        "mean_job_s": mean_job,
        "drain_s": drain,
        "ideal_drain_s": ideal,
        "efficiency": ideal / drain if drain else float("nan"),
        "throughput_per_min": len(graded) / drain * 60 if drain else float("nan"),
        "orphans": len(svc.orphans),
        # Shares of the machine's cores in the upload window, and how much of the time the API's event
        # loops were ready to run they waited for a core (bench/cpu_split.py).
        **cpu,
    }

    def setting(value: int | None) -> str:
        return "default" if value is None else str(value)

    print(
        f"\n{args.submissions} submissions, {args.clients} clients, {args.workers} workers, warm pool {args.pool} per worker, "
        f"worker nice {setting(args.nice)}, API processes {setting(args.api_processes)}, "
        + ("keep-alive, " if args.keep_alive else "a connection per upload, ")
        + (f"spread over {args.spread:g} s" if args.spread else "all at once")
    )
    for number, r in enumerate(rounds if len(rounds) > 1 else []):
        print(
            f"round {number + 1}: {len(r.accepted)} accepted, upload p50 {r.quantile_ms(0.5):.1f} ms, "
            f"p99 {r.quantile_ms(0.99):.1f} ms, window {r.window:.3f} s, API waiting for a core {r.cpu.api_waiting:.0%}"
        )
    for key, value in result.items():
        print(f"{key:20} {value:10.3f}" if isinstance(value, float) else f"{key:20} {value:10}")
    for error in errors[:5]:
        print("error:", error)
    return result


if __name__ == "__main__":
    main()
