"""The grading task as the API sends it (``send_task`` with the run's task id) reaches a real worker with
its arguments, and the same task sent again (the janitor's re-send after an interrupted upload) grades
nothing twice: one attempt, one report."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.config import Settings
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.worker.celery_app import make_celery
from grader.worker.dispatch import send_grading, task_id
from tests.utils.builders import visibility_zip
from tests.utils.service import RedisServer, service_parts, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]


def test_a_sent_task_reaches_a_worker_and_sending_it_again_grades_nothing_twice(workspace: Path) -> None:
    redis = RedisServer(workspace).start()
    try:
        with service_parts(workspace, redis.url, GRADER_WORKER_CONCURRENCY="2") as parts, parts.client() as c:
            store = Store(connect(redis.url))
            r = c.post(
                "/api/v1/assignments/visibility/submissions",
                files={"file": ("s.zip", visibility_zip(pause_seconds=4), "application/zip")},
            )
            assert r.status_code == 202 and r.json()["state"] == "queued", r.text
            sub_id = r.json()["id"]
            sub = store.get(sub_id)
            assert sub is not None and sub.queue == "cpu"
            # The same run sent again while the first delivery is graded (or waits): its task id is the run's.
            send_grading(
                make_celery(Settings(env="test"), redis.url), store, sub_id, sub.run_id, "cpu", 60, datetime.now(UTC)
            )
            body = wait_state(c, sub_id, timeout=180)
            assert body["state"] == "done" and body["report"]["score"] == 4
            assert body["attempts"] == 1
            assert sorted(store.r.keys(f"grader:report:{sub_id}*")) == [
                f"grader:report:{sub_id}",
                f"grader:report:{sub_id}:versions",
            ]
            assert store.r.llen(f"grader:report:{sub_id}:versions") == 1
            log = workspace / "worker.log"
            received = f"Task grader.grade_submission[{task_id(sub.run_id)}] received"
            deadline = time.monotonic() + 60
            while "already finished" not in log.read_text() or log.read_text().count(received) < 2:
                assert time.monotonic() < deadline, "the second delivery was never seen to be a no-op"
                time.sleep(0.5)
            text = log.read_text()
            assert f"submission {sub_id} run {sub.run_id}: graded" in text  # the worker got (sub_id, run_id)
            assert text.count(": graded") == 1
    finally:
        redis.stop()
