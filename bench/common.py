"""Shared pieces of the benchmarks: a real ``grader serve`` in a throw-away folder, zips, statistics.

Everything here drives the service the way a user does (the CLI and HTTP); nothing is mocked.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

# The benchmarks run their services with the tests' harness pieces (one way to find stray processes).
from tests.utils.service import leftovers

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
GRADER = str(ROOT / ".venv" / "bin" / "grader")
LIGHT_SUITE = BENCH / "suites" / "light"
LIGHT_SUBMISSION = BENCH / "submissions" / "light"
CS224N_SUITE = ROOT / "test_suites" / "cs224n_a5"
CS224N_REFERENCE = ROOT / "reference_solutions" / "cs224n_a5"


def machine() -> str:
    """One line naming the machine, for the results table."""
    mem = ""
    try:
        kib = int(
            next(
                line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
            ).split()[1]
        )
        mem = f", {kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores{mem}, {platform.machine()}, kernel {platform.release()}, Python {platform.python_version()}, "
        f"load average {load:.1f} at start, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def traversable_dir(prefix: str) -> Path:
    """A fresh folder under /tmp that a sandbox's private uid can reach."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o711)
    return path


def zip_folder(folder: Path, skip: tuple[str, ...] = ("mutants", "__pycache__", "README.md")) -> bytes:
    """The submission zip of ``folder`` (as a student would upload it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not any(part in skip for part in rel.parts):
                zf.write(path, rel.as_posix())
    return buffer.getvalue()


def quantile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1), by linear interpolation; NaN for no samples."""
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=1000, method="inclusive")[min(998, max(0, round(q * 1000) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BenchService:
    """``grader serve`` with its own data folder and suites, started and stopped like an operator would."""

    suites: dict[str, Path]
    workers: int = 1
    env_extra: dict[str, str] = field(default_factory=dict)
    root: Path = field(default_factory=lambda: traversable_dir("grader-bench-"))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    orphans: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        suites = self.root / "suites"
        return {
            "PATH": "/usr/bin:/bin",
            "GRADER_ENV": "test",
            "GRADER_DATA_DIR": str(self.root / "var"),
            "GRADER_SUITES_DIR": str(suites),
            "GRADER_WORKER_QUEUES": "cpu",
            **self.env_extra,
        }

    def start(self) -> BenchService:
        suites = self.root / "suites"
        suites.mkdir(exist_ok=True)
        for name, path in self.suites.items():
            (suites / name).symlink_to(path)
        with (self.root / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI
                [GRADER, "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"grader serve exited; see {self.root / 'serve.log'}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("grader serve did not become healthy")

    def cli(self, *args: str) -> str:
        out = subprocess.run([GRADER, *args], env=self.env, capture_output=True, text=True, timeout=300)  # noqa: S603
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return out.stdout

    def ta_token(self) -> str:
        return self.cli("token", "create", "--role", "ta", "--name", "bench").strip()

    def students(self, assignment: str, count: int, prefix: str = "s") -> list[str]:
        """Tokens of ``count`` new students on ``assignment``'s roster (a student already known keeps
        their token and gets none here: give each assignment its own ``prefix``)."""
        roster = self.root / f"roster-{assignment}.csv"
        roster.write_text("student_id\n" + "\n".join(f"{prefix}{i:03d}" for i in range(count)) + "\n")
        lines = self.cli("roster", "import", str(roster), "--assignment", assignment).splitlines()[1:]
        return [line.split(",")[1] for line in lines]  # student_id,token,link

    def stop(self) -> None:
        """Ctrl-C, then record any process still mentioning this service's folder (there must be none)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=120)
        deadline = time.monotonic() + 10
        while (left := leftovers(self.root)) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.orphans = left

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def service(suites: dict[str, Path], workers: int = 1, **env: str) -> Iterator[BenchService]:
    svc = BenchService(suites, workers, dict(env))
    try:
        # Inside the try: a service that never became healthy is still stopped, not left running.
        yield svc.start()
    finally:
        svc.close()


class Uploader:
    """One student's uploads over the standard library's HTTP client, with the multipart body encoded once.

    The clients share this machine's two cores with the service, so they must cost little: httpx spends
    ~1.6 ms of CPU per request (5 ms with 20 threads taking the GIL from each other), http.client ~0.5 ms.
    Each upload opens its own connection, as a student's browser does after minutes of work; with
    ``keep_alive`` one connection carries all of a client's uploads (and stays with one API process).
    """

    def __init__(self, port: int, path: str, token: str, data: bytes, keep_alive: bool = False) -> None:
        request = httpx.Request("POST", "http://api/", files={"file": ("submission.zip", data, "application/zip")})
        self.body = request.read()
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": request.headers["content-type"]}
        self.keep_alive, self.path = keep_alive, path
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def upload(self) -> tuple[float, str]:
        """POST the zip; (seconds the request took, the submission id). Raises on a non-202."""
        started = time.perf_counter()
        if not self.keep_alive:
            self.connection.close()  # the next request connects afresh
        try:
            self.connection.request("POST", self.path, self.body, self.headers)
            answer = self.connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            raise
        took = time.perf_counter() - started
        if answer.status != 202:
            raise RuntimeError(f"upload refused: {answer.status} {body[:300]!r}")
        return took, str(json.loads(body)["id"])


def upload(client: httpx.Client, assignment: str, data: bytes, name: str = "submission.zip") -> tuple[float, Any]:
    """POST one zip; (seconds the request took, the decoded answer). Raises on a non-202."""
    started = time.perf_counter()
    answer = client.post(
        f"/api/v1/assignments/{assignment}/submissions", files={"file": (name, data, "application/zip")}
    )
    took = time.perf_counter() - started
    if answer.status_code != 202:
        raise RuntimeError(f"upload refused: {answer.status_code} {answer.text[:300]}")
    return took, answer.json()


def listing(client: httpx.Client, assignment: str) -> list[dict[str, Any]]:
    """Every submission of ``assignment``, page by page (the API's default page holds 100)."""
    found: list[dict[str, Any]] = []
    while True:
        page = client.get(
            f"/api/v1/assignments/{assignment}/submissions", params={"offset": len(found), "limit": 1000}
        ).json()
        found += page["submissions"]
        if not page["submissions"] or len(found) >= page["total"]:
            return found


def wait_done(client: httpx.Client, sub_id: str, poll: float = 0.02, timeout: float = 900) -> dict[str, Any]:
    """Poll a submission until it is done or in error; returns its record (with the report)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/v1/submissions/{sub_id}").json()
        if body["state"] in ("done", "error"):
            return body
        time.sleep(poll)
    raise TimeoutError(f"submission {sub_id} was not graded in {timeout} s")


def header(title: str, command: str) -> None:
    print(f"# {title}")
    print(f"machine: {machine()}")
    print(f"command: {command}")
    print(f"python {sys.version.split()[0]}")
