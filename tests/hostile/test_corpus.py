"""Every hostile submission of the corpus, graded by the real service alongside honest ones.

Asserted for each: the service stays healthy, no byte of hidden data reaches any response, the score
is exactly what the honest part earns, and the report (or the upload's error) says what happened.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from grader.config import PROJECT_ROOT
from tests.hostile.corpus import ARCHIVE_CASES, CODE_CASES, HONEST, Case, Context, redis_socket_of
from tests.utils.builders import TOY_SUITES
from tests.utils.service import Service, running_service, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]

SECRET_PATH = TOY_SUITES / "toy" / "data" / "secret.txt"
SECRET = SECRET_PATH.read_text().strip()
CASES = CODE_CASES + ARCHIVE_CASES


@dataclass
class Outcome:
    case: Case
    upload: httpx.Response
    body: dict | None  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def graded() -> Iterator[tuple[Service, dict[str, Outcome], list[dict]]]:  # type: ignore[type-arg]
    with running_service("grader-test-hostile-", GRADER_WORKER_CONCURRENCY="2") as service:
        ctx = Context(api_port=service.port, redis_socket=redis_socket_of(service.root / "var"), secret_path=SECRET_PATH,
                      suites_dir=PROJECT_ROOT / "test_suites", marker=f"{os.getpid()}.31337")  # fmt: skip
        outcomes: dict[str, Outcome] = {}
        honest_ids = []
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {service.token('ta')}"}, timeout=120) as c:
            for i, case in enumerate(CASES):
                r = c.post("/api/v1/assignments/toy/submissions", files={"file": (f"{case.name}.zip", case.build(ctx), "application/zip")})
                outcomes[case.name] = Outcome(case, r, None)
                if i % 10 == 0:  # honest students submitting at the same time as the attackers
                    honest_ids.append(c.post("/api/v1/assignments/toy/submissions",
                                             files={"file": ("honest.zip", HONEST.build(ctx), "application/zip")}).json()["id"])  # fmt: skip
            for outcome in outcomes.values():
                if outcome.upload.status_code == 202:
                    outcome.body = wait_state(c, outcome.upload.json()["id"], timeout=600)
            honest = [wait_state(c, sub_id, timeout=600) for sub_id in honest_ids]
        yield service, outcomes, honest


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_attack_is_contained(case: Case, graded: tuple[Service, dict[str, Outcome], list[dict]]) -> None:  # type: ignore[type-arg]
    _, outcomes, _ = graded
    outcome = outcomes[case.name]
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


def test_honest_submissions_graded_normally_meanwhile(graded: tuple[Service, dict[str, Outcome], list[dict]]) -> None:  # type: ignore[type-arg]
    _, _, honest = graded
    assert honest and all(h["state"] == "done" and h["report"]["score"] == 3 for h in honest)


def test_service_is_healthy_afterwards(graded: tuple[Service, dict[str, Outcome], list[dict]]) -> None:  # type: ignore[type-arg]
    service, _, _ = graded
    assert httpx.get(f"{service.url}/healthz").status_code == 200
    assert service.process is not None and service.process.poll() is None


def test_no_daemon_survives(graded: tuple[Service, dict[str, Outcome], list[dict]]) -> None:  # type: ignore[type-arg]
    marker = f"{os.getpid()}.31337".encode()
    time.sleep(0.5)
    survivors = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes():
                survivors.append(proc.name)
        except OSError:
            continue
    assert survivors == []
