"""Per-submission overhead of the grader, measured side by side in one run (read the ratios).

    .venv/bin/python bench/overhead.py [--suite cs224n|light] [--repeat 3]

For one submission (the CS224N A5 reference by default), five ways of running the same checks:

1. ``inproc``: the checks in this process, no sandbox, no agent process (``bench/inprocess.py``);
2. ``engine-cold``: ``grader grade``'s engine, a fresh bwrap sandbox (spawn + ``import torch``);
3. ``engine-warm``: the same with a sandbox taken from a warm pool;
4. ``service-cold``: HTTP upload to ``grader serve`` -> queue -> worker -> report (polled every 20 ms),
   with ``GRADER_WARM_POOL__CPU=0`` (no pool: a fresh sandbox per submission);
5. ``service-warm``: the same with ``GRADER_WARM_POOL__CPU=1``.

The modes run round-robin (one submission of each, then again), so a machine that gets busier or
quieter during the run shifts every mode alike. Both services are started before the first round and
get one untimed submission each. A warm mode waits until its pool has refilled (the engine's pool is
asked; the service's is given ``--gap`` seconds since its previous job ended, default: twice the
cold sandbox start measured in the first round, at least 3 s).

Overhead = median of a mode minus the in-process median.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    CS224N_REFERENCE,
    CS224N_SUITE,
    LIGHT_SUBMISSION,
    LIGHT_SUITE,
    header,
    service,
    traversable_dir,
    upload,
    wait_done,
    zip_folder,
)
from bench.inprocess import grade_in_process  # noqa: E402
from grader.config import Settings  # noqa: E402
from grader.engine.runner import grade, make_launcher, sandbox_spec  # noqa: E402
from grader.engine.suites import Suite, load_suite  # noqa: E402
from grader.sandbox.pool import WarmPool  # noqa: E402

SUITES = {"cs224n": (CS224N_SUITE, CS224N_REFERENCE), "light": (LIGHT_SUITE, LIGHT_SUBMISSION)}
MODES = ("inproc", "engine-cold", "engine-warm", "service-cold", "service-warm")

#: One timed submission of a mode: (seconds, score, a note such as the sandbox start or the upload time).
Run = Callable[[], tuple[float, str, dict[str, float]]]


def _score(report: dict[str, object] | None) -> str:
    return f"{report['score']:g}/{report['max_score']:g}" if report else "no report"


def inproc_runner(suite: Suite, zip_path: Path) -> Run:
    def run() -> tuple[float, str, dict[str, float]]:
        seconds, tests = grade_in_process(suite, zip_path, Path(tempfile.gettempdir()))
        return seconds, f"{sum(t.score for t in tests):g}/{sum(t.max_score for t in tests):g}", {}

    return run


@contextmanager
def engine_runner(suite: Suite, zip_path: Path, warm: bool) -> Iterator[Run]:
    root = traversable_dir("grader-bench-engine-")
    settings = Settings(env="test", data_dir=root)  # type: ignore[call-arg]
    pool = WarmPool(make_launcher(settings), settings.scratch_dir, {"cpu": 1}, settings.timeouts) if warm else None
    if pool is not None:
        pool.target(sandbox_spec(suite, settings, root))

    def run() -> tuple[float, str, dict[str, float]]:
        if pool is not None:
            pool.wait_ready("cpu", 300)
        t = time.perf_counter()
        report = grade(suite, zip_path, settings, launcher=pool)
        seconds = time.perf_counter() - t
        return seconds, f"{report.score:g}/{report.max_score:g}", {"sandbox start": report.timings.sandbox_start}

    try:
        yield run
    finally:
        if pool is not None:
            pool.close()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def service_runner(suite: Suite, data: bytes, warm: bool, gap: Callable[[], float]) -> Iterator[Run]:
    # Same scheduling priority as the engine modes run with here: this measures the path, not the nice level.
    # The pool is set both ways: `grader serve` sizes one by default (grader/worker/sizing.py).
    env = {"GRADER_WORKER_NICE": "0", "GRADER_WARM_POOL__CPU": "1" if warm else "0"}
    with service({suite.path.name: suite.path}, workers=1, **env) as svc:
        client = httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {svc.ta_token()}"}, timeout=120)
        wait_done(client, upload(client, suite.manifest.id, data)[1]["id"])  # untimed: loads the suite, fills caches
        last_end = [time.monotonic()]

        def run() -> tuple[float, str, dict[str, float]]:
            if warm:
                time.sleep(max(0.0, last_end[0] + gap() - time.monotonic()))
            t = time.perf_counter()
            took, accepted = upload(client, suite.manifest.id, data)
            body = wait_done(client, accepted["id"])
            seconds = time.perf_counter() - t
            last_end[0] = time.monotonic()
            report = body.get("report")
            notes = {"upload request": took}
            if report:
                notes["engine in the worker"] = float(report["execution_time"])
            return seconds, _score(report) if body["state"] == "done" else body["error"], notes

        try:
            yield run
        finally:
            client.close()
    if svc.orphans:
        raise RuntimeError(f"processes left behind by grader serve: {svc.orphans}")


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="cs224n")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gap", type=float, default=None, help="seconds the service's pool gets to refill")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args(argv)
    modes = [m for m in MODES if m in args.modes.split(",")]
    suite_dir, folder = SUITES[args.suite]
    header("Per-submission overhead", "bench/overhead.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    data = zip_folder(folder)
    work = traversable_dir("grader-bench-overhead-")
    zip_path = work / "submission.zip"
    zip_path.write_bytes(data)
    suite = load_suite(suite_dir)
    print(
        f"suite {suite.manifest.id}: {len(suite.checks)} checks; submission {folder.name} ({len(data) / 1024:.0f} KiB zipped)"
    )

    times: dict[str, list[float]] = {m: [] for m in modes}
    notes: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
    scores: dict[str, str] = {}
    cold_starts: list[float] = []

    def gap() -> float:
        if args.gap is not None:
            return args.gap
        return max(3.0, 2 * statistics.median(cold_starts)) if cold_starts else 10.0

    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        runners: dict[str, Run] = {}
        for mode in modes:
            if mode == "inproc":
                runners[mode] = inproc_runner(suite, zip_path)
            elif mode.startswith("engine"):
                runners[mode] = stack.enter_context(engine_runner(suite, zip_path, mode.endswith("warm")))
            else:
                runners[mode] = stack.enter_context(service_runner(suite, data, mode.endswith("warm"), gap))
        for round_ in range(args.repeat):
            for mode in modes:
                seconds, scores[mode], extra = runners[mode]()
                times[mode].append(seconds)
                for key, value in extra.items():
                    notes[mode].setdefault(key, []).append(value)
                if mode == "engine-cold":
                    cold_starts.append(extra["sandbox start"])
            print(f"round {round_ + 1}: " + ", ".join(f"{m} {times[m][-1]:.3f} s" for m in modes), flush=True)

    base = statistics.median(times["inproc"]) if "inproc" in times else float("nan")
    print(f"\n{'mode':14} {'median s':>9} {'min s':>7} {'overhead s':>11} {'ratio':>7}  score; medians of parts")
    summary: dict[str, float] = {}
    for mode in modes:
        med = statistics.median(times[mode])
        summary[mode] = med - base
        parts = "; ".join(f"{key} {statistics.median(values):.3f} s" for key, values in notes[mode].items())
        print(
            f"{mode:14} {med:9.3f} {min(times[mode]):7.3f} {med - base:11.3f} {med / base:7.2f}  {scores[mode]}; {parts}"
        )
    return summary


if __name__ == "__main__":
    main()
