"""Every hostile submission of the corpus, graded by the real service alongside honest ones.

Asserted for each: the service stays healthy, no byte of hidden data reaches any response, the score
is exactly what the honest part earns, and the report (or the upload's error) says what happened.

The verdicts must not depend on how busy the host is. The suite (``suites/hostile``) gives every honest
part a wall-time margin far beyond the CPU it needs; the service grades at niceness 0 (niceness is the
operator's way of letting grading yield to everything else, without bound on a busy host, which is not
what this corpus is about); what a case is about is measured as such (a daemon is gone when no process
carries its marker, however long the kernel takes to reap it). The cases that once failed on a busy
host are graded again under a CPU hog of two busy loops per core.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from grader.config import PROJECT_ROOT
from tests.hostile.corpus import ARCHIVE_CASES, CODE_CASES, HONEST, Case, Context, redis_socket_of
from tests.utils.builders import traversable_dir
from tests.utils.service import Service, leftovers, service_env, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]

SUITE = Path(__file__).resolve().parent / "suites" / "hostile"
SECRET_PATH = SUITE / "data" / "secret.txt"
SECRET = SECRET_PATH.read_text().strip()
CASES = CODE_CASES + ARCHIVE_CASES
# On a host at load ~10 on 2 cores these once ended in a timeout instead of their verdict (issue 26).
UNDER_LOAD = (
    "read-hidden-labels-by-path",
    "signal-everything",
    "daemon-outlives",
    "infinite-loop-at-import",
    "infinite-loop-in-constructor",
)
HOG = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


@dataclass
class Outcome:
    case: Case
    upload: httpx.Response
    body: dict | None  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    """``grader serve`` with the hostile suite alone; two gradings at once, at niceness 0."""
    root = traversable_dir("grader-test-hostile-")
    suites = root / "hostile-suites"
    suites.mkdir()
    (suites / "hostile").symlink_to(SUITE)
    env = service_env(
        root,
        GRADER_SUITES_DIR=str(suites),
        GRADER_WORKER_CONCURRENCY="2",
        GRADER_WORKER_NICE="0",
        GRADER_TIMEOUTS__STARTUP="300",
    )  # a sandbox's start (import torch) on a busy host
    svc = Service(root, env).start()
    try:
        yield svc
    finally:
        svc.stop()
    assert leftovers(root) == []
    shutil.rmtree(root, ignore_errors=True)


def context(service: Service, marker: str) -> Context:
    return Context(
        api_port=service.port,
        redis_socket=redis_socket_of(service.root / "var"),
        secret_path=SECRET_PATH,
        suites_dir=PROJECT_ROOT / "test_suites",
        marker=marker,
    )


def grade_all(
    service: Service, ctx: Context, cases: list[Case], honest_every: int
) -> tuple[dict[str, Outcome], list[dict]]:  # type: ignore[type-arg]
    """Upload every case (and an honest submission every ``honest_every`` cases, from the first), then wait for all."""
    outcomes: dict[str, Outcome] = {}
    honest_ids = []
    with httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {service.token('ta')}"}, timeout=120
    ) as c:
        for i, case in enumerate(cases):
            r = c.post(
                "/api/v1/assignments/hostile/submissions",
                files={"file": (f"{case.name}.zip", case.build(ctx), "application/zip")},
            )
            outcomes[case.name] = Outcome(case, r, None)
            if i % honest_every == 0:  # honest students submitting at the same time as the attackers
                honest_ids.append(
                    c.post(
                        "/api/v1/assignments/hostile/submissions",
                        files={"file": ("honest.zip", HONEST.build(ctx), "application/zip")},
                    ).json()["id"]
                )
        for outcome in outcomes.values():
            if outcome.upload.status_code == 202:
                outcome.body = wait_state(c, outcome.upload.json()["id"], timeout=600)
        honest = [wait_state(c, sub_id, timeout=600) for sub_id in honest_ids]
    return outcomes, honest


def assert_contained(outcome: Outcome) -> None:
    case = outcome.case
    assert outcome.upload.status_code == case.upload_status, outcome.upload.text
    assert SECRET not in outcome.upload.text
    if case.upload_status != 202:
        assert case.upload_phrase in outcome.upload.json()["detail"]
        return
    body = outcome.body
    assert body is not None and body["state"] == "done", body
    report = body["report"]
    results = {t["number"]: t for t in report["tests"]}
    assert report["score"] == case.score, {n: (t["result"], t["output"][:200]) for n, t in results.items()}
    assert results["1"]["result"] == "passed" and results["3"]["result"] == "passed"
    if case.score < 3:
        assert results["2"]["result"] in ("failed", "timeout")
        assert case.phrase in results["2"]["output"], results["2"]["output"]
    text = str(body)
    assert SECRET not in text
    for forbidden in case.staff_must_not_contain:
        assert forbidden not in report["staff_output"]
    assert len(report["staff_output"]) < 200_000  # captured output stays capped


def carrying(marker: bytes, timeout: float = 60) -> list[str]:
    """Processes whose command line carries ``marker`` once they had ``timeout`` s to go (a busy host reaps late)."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes():
                    found.append(proc.name)
            except OSError:
                continue
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


@contextmanager
def cpu_hog(seconds: float) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two busy loops per core, each in a session (a scheduling group, under autogroup) of its own as other
    users' jobs are; each ends by itself after ``seconds`` and is killed on the way out in any case."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", HOG, str(seconds)], start_new_session=True)
        for _ in range(2 * len(os.sched_getaffinity(0)))
    ]
    try:
        yield hogs
    finally:
        for hog in hogs:
            if hog.poll() is None:
                os.killpg(hog.pid, signal.SIGKILL)
            hog.wait()


@pytest.fixture(scope="module")
def graded(service: Service) -> tuple[dict[str, Outcome], list[dict]]:  # type: ignore[type-arg]
    return grade_all(service, context(service, f"{os.getpid()}.31337"), CASES, honest_every=10)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)
    assert set(UNDER_LOAD) <= {c.name for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_attack_is_contained(case: Case, graded: tuple[dict[str, Outcome], list[dict]]) -> None:  # type: ignore[type-arg]
    outcomes, _ = graded
    assert_contained(outcomes[case.name])


def test_honest_submissions_graded_normally_meanwhile(graded: tuple[dict[str, Outcome], list[dict]]) -> None:  # type: ignore[type-arg]
    _, honest = graded
    assert honest and all(h["state"] == "done" and h["report"]["score"] == 3 for h in honest)


def test_service_is_healthy_afterwards(service: Service, graded: tuple[dict[str, Outcome], list[dict]]) -> None:  # type: ignore[type-arg]
    assert httpx.get(f"{service.url}/healthz").status_code == 200
    assert service.process is not None and service.process.poll() is None


def test_no_daemon_survives(graded: tuple[dict[str, Outcome], list[dict]]) -> None:  # type: ignore[type-arg]
    assert carrying(f"{os.getpid()}.31337".encode()) == []


def test_the_cases_a_busy_host_failed_get_the_same_verdicts_under_a_cpu_hog(service: Service) -> None:
    marker = f"{os.getpid()}.31338"
    cases = [c for c in CASES if c.name in UNDER_LOAD]
    with cpu_hog(seconds=1200) as hogs:
        outcomes, honest = grade_all(service, context(service, marker), cases, honest_every=len(cases))
        assert all(hog.poll() is None for hog in hogs)  # the host was busy from the first upload to the last report
    for case in cases:
        assert_contained(outcomes[case.name])
    assert honest and all(h["state"] == "done" and h["report"]["score"] == 3 for h in honest)
    assert carrying(marker.encode()) == []
