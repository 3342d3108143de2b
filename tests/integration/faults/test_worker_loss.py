"""Fault drills with real processes: a worker SIGKILLed mid-grade, a whole-service restart, a poison job."""

from __future__ import annotations

import io
import os
import shutil
import signal
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from grader.config import Settings
from grader.store.records import Role, Submission, SubmissionState
from grader.store.redis_server import EmbeddedRedis, connect
from grader.store.submissions import Store
from grader.store.tokens import issue_token
from grader.worker.tasks import grade_job
from tests.utils.builders import traversable_dir
from tests.utils.service import Service, free_port, leftovers, service_env, spawn, wait_healthy, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]


def slow_zip(seconds: float) -> bytes:
    good = f"import time\n\ndef add(a, b):\n    return a + b\n\ndef pause():\n    time.sleep({seconds})\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("good.py", good)
    return buffer.getvalue()


@pytest.fixture
def root() -> Iterator[Path]:
    path = traversable_dir("grader-test-faults-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_worker_killed_mid_grade_is_regraded_with_exactly_one_report(root: Path) -> None:
    redis = EmbeddedRedis(root / "var" / "redis")
    env = service_env(root, REDIS_URL=redis.url, GRADER_VISIBILITY_TIMEOUT_SECONDS="3")
    port = free_port()
    api = spawn(["api", "--port", str(port)], env, root / "api.log")
    worker = spawn(["worker", "--queues", "cpu"], env, root / "worker-1.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, api)
        store = Store(connect(redis.url))
        token = issue_token(store, Role.ta, "ta")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            r = c.post("/api/v1/assignments/visibility/submissions", files={"file": ("s.zip", slow_zip(6), "application/zip")})
            sub_id = r.json()["id"]
            deadline = time.monotonic() + 120
            while "slow" not in c.get(f"/api/v1/submissions/{sub_id}").json()["progress"]["current"]:
                assert time.monotonic() < deadline, "grading never reached the slow check"
                time.sleep(0.2)
            os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool child, mid-check
            worker.wait()
            assert c.get(f"/api/v1/submissions/{sub_id}").json()["state"] == "running"  # stale, until redelivered
            worker = spawn(["worker", "--queues", "cpu"], env, root / "worker-2.log")
            body = wait_state(c, sub_id, timeout=180)
        assert body["state"] == "done" and body["report"]["score"] == 4
        assert body["attempts"] == 2
        assert store.r.keys(f"grader:report:{sub_id}*") == [f"grader:report:{sub_id}"]
        assert [s.id for s in store.submissions("visibility")] == [sub_id]
    finally:
        for proc in (api, worker):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
        redis.shutdown()


def test_restarting_the_service_keeps_submissions_and_reports(root: Path) -> None:
    service = Service(root, service_env(root)).start()
    token = service.token("ta")
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        r = c.post("/api/v1/assignments/visibility/submissions", files={"file": ("s.zip", slow_zip(0), "application/zip")})
        sub_id = r.json()["id"]
        before = wait_state(c, sub_id)
    service.stop()
    assert leftovers(root) == []
    service.port = free_port()
    service.start()
    try:
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            after = c.get(f"/api/v1/submissions/{sub_id}").json()
            listing = c.get("/api/v1/assignments/visibility/submissions").json()
        assert after == before
        assert listing["latest_per_student"] == {"staff": sub_id}
    finally:
        service.stop()
    assert leftovers(root) == []


def test_poison_submission_ends_as_error_after_bounded_attempts(root: Path) -> None:
    redis = EmbeddedRedis(root / "var" / "redis")
    try:
        settings = Settings(env="test", data_dir=root / "var", max_attempts=2)
        store = Store(connect(redis.url))
        sub = Submission(id="p1", assignment="visibility", student="s", role=Role.student, blob_sha256="0" * 64,
                         filename="s.zip", size_bytes=1, received_at=datetime.now(UTC), run_id="r1")  # fmt: skip
        store.add_submission(sub)
        store.mark_queued("p1", "r1", "cpu", datetime.now(UTC))
        # Two earlier deliveries died with their worker before finishing (the counter is all they left).
        store.r.hset("grader:sub:p1", "attempts", "2")
        store.update("p1", state=SubmissionState.running)
        assert grade_job(settings, store, "p1", "r1") == "poison"
        final = store.get("p1")
        assert final is not None and final.state == SubmissionState.error
        assert "stopped the grader 2 times" in final.error
        assert grade_job(settings, store, "p1", "r1") == "already finished"  # a further redelivery is a no-op
        assert grade_job(settings, store, "p1", "old-run") == "stale"
    finally:
        redis.shutdown()
