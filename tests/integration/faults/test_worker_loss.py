"""Fault drills with real processes: a worker SIGKILLed mid-grade, a whole-service restart, a poison job."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from grader.config import Settings
from grader.store.records import Role, Submission, SubmissionState
from grader.store.redis_server import EmbeddedRedis, connect
from grader.store.submissions import Store
from grader.worker.tasks import grade_job
from tests.utils.builders import queued_run, visibility_zip
from tests.utils.service import Service, free_port, leftovers, service_env, service_parts, spawn, stop, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]


@pytest.mark.parametrize(
    "recovery",
    [
        {"GRADER_VISIBILITY_TIMEOUT_SECONDS": "3"},  # the broker redelivers the unacknowledged job
        {"GRADER_RUN_LOCK_SECONDS": "3", "GRADER_JANITOR_INTERVAL_SECONDS": "1"},  # the janitor sees the lapsed lock
    ],
    ids=["broker-redelivery", "janitor"],
)
def test_worker_killed_mid_grade_is_regraded_with_exactly_one_report(workspace: Path, recovery: dict[str, str]) -> None:
    redis = EmbeddedRedis(workspace / "var" / "redis")
    try:
        with service_parts(workspace, redis.url, **recovery) as parts, parts.client() as c:
            r = c.post(
                "/api/v1/assignments/visibility/submissions",
                files={"file": ("s.zip", visibility_zip(6), "application/zip")},
            )
            sub_id = r.json()["id"]
            deadline = time.monotonic() + 120
            while "slow" not in c.get(f"/api/v1/submissions/{sub_id}").json()["progress"]["current"]:
                assert time.monotonic() < deadline, "grading never reached the slow check"
                time.sleep(0.2)
            stop(parts.worker, signal.SIGKILL)  # the worker and its pool child, mid-check
            assert c.get(f"/api/v1/submissions/{sub_id}").json()["state"] == "running"  # stale, until redelivered
            parts.worker = spawn(["worker", "--queues", "cpu"], parts.env, workspace / "worker-2.log")
            body = wait_state(c, sub_id, timeout=180)
            store = Store(connect(redis.url))
            assert body["state"] == "done" and body["report"]["score"] == 4
            assert body["attempts"] == 2
            # one report, and one version of it (a duplicate run would have added a second)
            assert sorted(store.r.keys(f"grader:report:{sub_id}*")) == [
                f"grader:report:{sub_id}",
                f"grader:report:{sub_id}:versions",
            ]
            assert store.r.llen(f"grader:report:{sub_id}:versions") == 1
            assert [s.id for s in store.submissions("visibility")] == [sub_id]
    finally:
        redis.shutdown()


def test_restarting_the_service_keeps_submissions_and_reports(workspace: Path) -> None:
    service = Service(workspace, service_env(workspace)).start()
    token = service.token("ta")
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        r = c.post(
            "/api/v1/assignments/visibility/submissions", files={"file": ("s.zip", visibility_zip(), "application/zip")}
        )
        sub_id = r.json()["id"]
        before = wait_state(c, sub_id)
    service.stop()
    assert leftovers(workspace) == []
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
    assert leftovers(workspace) == []


def test_poison_submission_ends_as_error_after_bounded_attempts(workspace: Path) -> None:
    redis = EmbeddedRedis(workspace / "var" / "redis")
    try:
        settings = Settings(env="test", data_dir=workspace / "var", max_attempts=2)
        store = Store(connect(redis.url))
        sub = Submission(
            id="p1",
            assignment="visibility",
            student="s",
            role=Role.student,
            blob_sha256="0" * 64,
            filename="s.zip",
            size_bytes=1,
            received_at=datetime.now(UTC),
            run_id="r1",
        )
        store.add_submission(sub)
        queued_run(store, "p1", "r1", "cpu", datetime.now(UTC))
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
