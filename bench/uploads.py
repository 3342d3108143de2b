"""Upload latency at a steady rate while the workers grade: the grader's upload beside a bare FastAPI route.

    .venv/bin/python bench/uploads.py [--rate 50] [--seconds 60] [--workers 2] [--busy minbert] [--busy-outstanding 4]

A real ``grader serve --workers N`` (embedded Redis, Celery workers, uvicorn) is kept busy grading: a TA
uploads the ``--busy`` suite's reference (minbert: real model code in a sandbox) so that
``--busy-outstanding`` of them are always waiting or being graded. Meanwhile students upload the light
bench submission (a small valid zip) at ``--rate`` per second for ``--seconds`` seconds, on a fixed
schedule (open loop: a slow answer does not delay the next upload). Then the same schedule goes, in the
same run and with the workers still grading, to a bare FastAPI route (``bench/bare_upload.py``: one
``UploadFile`` written to disk, 202) served by uvicorn with as many processes as ``grader api`` has.

Reported per route: uploads, errors, upload latency (request sent -> 202 read) p50 / p95 / p99 / max, the
schedule's worst lag (how late the client sent an upload: it must stay small for the figures to be the
server's), the route's processes' CPU time per upload (what the machine's other load does not change),
the submissions being graded at the start and the end, and the 1-minute load average.
Target: the grader's p99 <= 100 ms at 50 uploads/s for 60 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    LIGHT_SUBMISSION,
    LIGHT_SUITE,
    ROOT,
    Uploader,
    free_port,
    header,
    quantile,
    service,
    zip_folder,
)
from tests.utils.builders import SHARED_ENVS  # noqa: E402

LIGHT = "bench-light"
SKIP = ("mutants", "forgeries", "_source", "__pycache__", "README.md")
API_PROCESSES = 2  # grader serve's default (GRADER_API_PROCESSES); the bare route gets as many


@dataclass
class Phase:
    """One route's run of the schedule."""

    route: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lag: float = 0.0
    busy: tuple[int, int] = (0, 0)  # the TA's submissions being graded at the phase's start and end
    graded: int = 0  # the TA's submissions whose grading ended during the phase
    load: float = 0.0
    cpu: float = 0.0  # seconds of CPU the route's processes used during the phase

    def cpu_ms(self) -> float:
        """The route's CPU per upload: a cost the machine's other load does not change (unlike latency)."""
        return 1000 * self.cpu / max(1, len(self.latencies))

    def ms(self, q: float) -> float:
        return 1000 * quantile(sorted(self.latencies), q)


def open_loop(port: int, path: str, tokens: list[str], data: bytes, rate: float, seconds: float, senders: int) -> Phase:
    """``rate`` x ``seconds`` uploads at fixed times, from ``senders`` threads (each with its own connection
    and token); each takes the next due upload when it is free, so up to ``senders`` can be in flight."""
    phase = Phase(route=path)
    count, lock = round(rate * seconds), threading.Lock()
    slots = iter(range(count))
    start = time.time() + 0.5

    def send(uploader: Uploader) -> None:
        while True:
            with lock:
                k = next(slots, None)
            if k is None:
                uploader.connection.close()
                return
            due = start + k / rate
            time.sleep(max(0.0, due - time.time()))
            late = time.time() - due
            try:
                took, _ = uploader.upload()
            except Exception as exc:  # noqa: BLE001 - counted and reported, the schedule goes on
                with lock:
                    phase.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                phase.latencies.append(took)
                phase.lag = max(phase.lag, late)

    threads = [
        threading.Thread(target=send, args=(Uploader(port, path, tokens[i % len(tokens)], data),))
        for i in range(senders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return phase


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds used) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(root: int) -> float:
    """CPU seconds used so far by ``root`` and its descendants (an API's uvicorn processes)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = _stat(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
    family, total = {root}, 0.0
    for _ in range(4):  # uvicorn's tree is two levels deep
        family |= {pid for pid, (parent, _) in stats.items() if parent in family}
    for pid in family:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def grader_api(port: int) -> int:
    """The pid of ``grader serve``'s API process (``grader api --port PORT``)."""
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"api" in args and str(port).encode() in args:
            return int(entry.name)
    raise LookupError(f"no API process on port {port}")


class BusyWorkers:
    """Keeps ``outstanding`` submissions of ``assignment`` waiting or being graded (a TA's uploads)."""

    def __init__(self, url: str, token: str, assignment: str, data: bytes, outstanding: int) -> None:
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        self.assignment, self.data, self.outstanding = assignment, data, outstanding
        self.ids: dict[str, str] = {}  # id -> last state seen
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for sub_id in [i for i, state in self.ids.items() if state not in ("done", "error")]:
                self.ids[sub_id] = self.client.get(f"/api/v1/submissions/{sub_id}").json()["state"]
            while sum(state not in ("done", "error") for state in self.ids.values()) < self.outstanding:
                answer = self.client.post(
                    f"/api/v1/assignments/{self.assignment}/submissions",
                    files={"file": ("submission.zip", self.data, "application/zip")},
                )
                answer.raise_for_status()
                self.ids[answer.json()["id"]] = answer.json()["state"]
            self.stop.wait(1.0)

    def running(self) -> int:
        return sum(state == "running" for state in self.ids.values())

    def finished(self) -> int:
        return sum(state in ("done", "error") for state in self.ids.values())

    def wait_running(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.running() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the workers were not busy after {timeout} s: {self.ids}")
            time.sleep(0.5)


def bare_route(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``bench/bare_upload.py`` under uvicorn, ``API_PROCESSES`` processes on one port, as ``grader api`` runs."""
    port = free_port()
    env = {**os.environ, "BARE_UPLOAD_DIR": str(root / "bare")}
    with (root / "bare.log").open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.bare_upload:app",
                "--port",
                str(port),  # noqa: S603
                "--workers",
                str(API_PROCESSES),
                "--log-level",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise TimeoutError("the bare route did not start")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50, help="uploads per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--busy", default="minbert", help="the suite whose reference keeps the workers grading")
    parser.add_argument("--busy-outstanding", type=int, default=4, help="its submissions kept waiting or running")
    parser.add_argument("--senders", type=int, default=32, help="client threads (uploads in flight at most)")
    parser.add_argument("--students", type=int, default=32)
    args = parser.parse_args(argv)
    header(
        "Upload latency at a steady rate, workers busy grading",
        "bench/uploads.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    )
    busy_suite = LIGHT_SUITE if args.busy == "light" else ROOT / "test_suites" / args.busy
    busy_id = str(tomllib.loads((busy_suite / "suite.toml").read_text())["id"])
    busy_zip = zip_folder(
        LIGHT_SUBMISSION if args.busy == "light" else ROOT / "reference_solutions" / args.busy, skip=SKIP
    )
    data = zip_folder(LIGHT_SUBMISSION)
    count = round(args.rate * args.seconds)
    # Every upload is a student's, through the roster check and the rate limit, with a limit they never reach.
    env = {
        "GRADER_ENVS_DIR": str(SHARED_ENVS),
        "GRADER_RATE_LIMIT_COUNT": str(count + 100),
        "GRADER_API_PROCESSES": str(API_PROCESSES),
    }
    phases: list[Phase] = []
    with service({LIGHT: LIGHT_SUITE, busy_id: busy_suite}, workers=args.workers, **env) as svc:
        tokens = svc.students(LIGHT, args.students)
        busy = BusyWorkers(svc.url, svc.ta_token(), busy_id, busy_zip, args.busy_outstanding)
        busy.thread.start()
        try:
            busy.wait_running(args.workers, timeout=600)
            open_loop(svc.port, f"/api/v1/assignments/{LIGHT}/submissions", tokens, data, 5, 2, 4)  # warm each process
            bare, bare_port = bare_route(svc.root)
            try:
                open_loop(bare_port, "/upload", ["none"], data, 5, 2, 4)
                for route, port, path, pid in (
                    ("grader", svc.port, f"/api/v1/assignments/{LIGHT}/submissions", grader_api(svc.port)),
                    ("bare FastAPI", bare_port, "/upload", bare.pid),
                ):
                    before, finished, cpu = busy.running(), busy.finished(), cpu_of(pid)
                    phase = open_loop(port, path, tokens, data, args.rate, args.seconds, args.senders)
                    phase.route, phase.busy, phase.load = route, (before, busy.running()), os.getloadavg()[0]
                    phase.graded = busy.finished() - finished
                    phase.cpu = cpu_of(pid) - cpu
                    phases.append(phase)
            finally:
                bare.terminate()
                bare.wait(timeout=30)
        finally:
            busy.stop.set()
            busy.thread.join(timeout=30)
            busy.client.close()
    print(
        f"{count} uploads of {len(data)} bytes at {args.rate:g}/s for {args.seconds:g} s; {args.workers} workers grading {busy_id}"
    )
    print(
        f"{'route':<14}{'uploads':>8}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'lag ms':>9}"
        f"{'CPU ms':>8}{'grading':>10}{'graded':>8}{'load':>7}"
    )
    for p in phases:
        print(
            f"{p.route:<14}{len(p.latencies):>8}{len(p.errors):>8}{p.ms(0.5):>9.1f}{p.ms(0.95):>9.1f}{p.ms(0.99):>9.1f}"
            f"{1000 * max(p.latencies, default=float('nan')):>9.1f}{1000 * p.lag:>9.1f}{p.cpu_ms():>8.2f}"
            f"{f'{p.busy[0]}->{p.busy[1]}':>10}{p.graded:>8}{p.load:>7.1f}"
        )
    for p in phases:
        for error in sorted(set(p.errors))[:5]:
            print(f"  {p.route} error: {error}")
    grader_p99 = phases[0].ms(0.99)
    print(f"target: grader p99 <= 100 ms: {'met' if grader_p99 <= 100 else 'missed'} ({grader_p99:.1f} ms)")
    return {
        f"{key}_{p.route.split()[0]}": value
        for p in phases
        for key, value in (
            ("uploads", len(p.latencies)),
            ("errors", len(p.errors)),
            ("p50_ms", p.ms(0.5)),
            ("p95_ms", p.ms(0.95)),
            ("p99_ms", p.ms(0.99)),
            ("lag_ms", 1000 * p.lag),
            ("cpu_ms", p.cpu_ms()),
            ("busy_start", p.busy[0]),
            ("busy_end", p.busy[1]),
            ("graded", p.graded),
        )
    }


if __name__ == "__main__":
    main()
