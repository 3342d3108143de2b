"""The janitor sends again an abandoned grading, and a recorded run whose task was never sent (real Redis)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.models.manifest import load_manifest
from grader.store.records import Role, Submission, SubmissionState
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.worker.celery_app import make_celery
from grader.worker.janitor import sweep
from tests.utils.builders import settings_for
from tests.utils.service import RedisServer

pytestmark = pytest.mark.service

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SUITES = Path(__file__).resolve().parents[2] / "test_suites"


@pytest.fixture
def redis_url(workspace: Path) -> Iterator[str]:
    server = RedisServer(workspace).start()
    yield server.url
    server.stop()


def _running(store: Store, sub_id: str, assignment: str) -> Submission:
    """A submission whose worker started grading it ten minutes ago and then died (no run lock)."""
    sub = Submission(
        id=sub_id,
        assignment=assignment,
        student="s1",
        role=Role.student,
        blob_sha256="0" * 64,
        filename="s.zip",
        size_bytes=1,
        received_at=NOW - timedelta(minutes=11),
        run_id=uuid.uuid4().hex,
        queue="cpu",
        state=SubmissionState.queued,
        queued_at=NOW - timedelta(minutes=11),
    )
    store.add_submission(sub)
    store.start_attempt(sub_id, NOW - timedelta(minutes=10))
    return sub


def _message(store: Store) -> dict[str, object]:
    """The one task message on the cpu queue (kombu's list), as Celery's ``send_task`` wrote it."""
    [payload] = store.r.lrange("cpu", 0, -1)
    return json.loads(payload)  # type: ignore[no-any-return]


def test_an_abandoned_grading_goes_back_with_its_message_and_time_limits(redis_url: str, workspace: Path) -> None:
    settings = settings_for(workspace, suites_dir=SUITES, run_lock_seconds=60)
    store, celery = Store(connect(redis_url)), make_celery(settings, redis_url)
    sub = _running(store, "abc", "cs224n-a5")

    assert sweep(store, celery, settings, NOW) == ["abc"]

    back = store.get("abc")
    assert back is not None and back.state == SubmissionState.queued and back.queued_at == NOW
    assert back.run_id == sub.run_id and back.attempts == 1  # the same run; attempts kept (poison stays poison)
    assert store.queue_position(back) == 1 and not store.r.sismember("grader:running", "abc")
    message = _message(store)
    assert json.loads(base64.b64decode(message["body"]))[0] == ["abc", sub.run_id]  # type: ignore[arg-type]
    assert message["headers"]["id"] == str(uuid.UUID(sub.run_id))  # type: ignore[index]  # the run's task id
    soft = load_manifest(SUITES / "cs224n_a5" / "suite.toml").resources.total_timeout_seconds + 120
    assert message["headers"]["timelimit"] == [soft + 60, soft]  # type: ignore[index]  # as the first delivery had
    assert sweep(store, celery, settings, NOW) == []  # queued now: not abandoned any more


def test_a_grading_whose_worker_holds_the_lock_is_left_alone(redis_url: str, workspace: Path) -> None:
    settings = settings_for(workspace, suites_dir=SUITES, run_lock_seconds=60)
    store, celery = Store(connect(redis_url)), make_celery(settings, redis_url)
    _running(store, "abc", "cs224n-a5")
    before = store.get("abc")
    assert store.acquire_run_lock("abc", "worker-2", 60)  # the worker is alive after all

    assert store.requeue_abandoned("abc", NOW) is False
    assert sweep(store, celery, settings, NOW) == []
    assert store.get("abc") == before and store.r.llen("cpu") == 0


def test_a_submission_of_a_removed_suite_is_still_sent_back(redis_url: str, workspace: Path) -> None:
    settings = settings_for(workspace, suites_dir=SUITES, run_lock_seconds=60)
    store, celery = Store(connect(redis_url)), make_celery(settings, redis_url)
    _running(store, "old", "no-such-assignment")
    assert sweep(store, celery, settings, NOW) == ["old"]  # the worker then records why it cannot grade it
    assert _message(store)["headers"]["timelimit"] == [1800 + 180, 1800 + 120]  # type: ignore[index]


class _WorkerWritesMeanwhile(Store):
    """A store whose worker turns out to be alive: it writes the record right after the janitor reads it."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(connect(redis_url))
        self.worker = connect(redis_url)

    def get(self, sub_id: str) -> Submission | None:
        sub = super().get(sub_id)
        self.worker.hset(f"grader:sub:{sub_id}", "progress_current", json.dumps("check 2 of 5"))
        return sub


def test_a_record_written_while_the_janitor_decides_is_left_alone(redis_url: str, workspace: Path) -> None:
    # The record is watched before it is read: a live worker's write in between cancels the whole
    # transaction, so the grading is neither sent back nor marked queued under the worker's feet.
    store = Store(connect(redis_url))
    _running(store, "abc", "cs224n-a5")
    racing = _WorkerWritesMeanwhile(redis_url)

    assert racing.requeue_abandoned("abc", NOW) is False
    after = store.get("abc")
    assert after is not None and after.state == SubmissionState.running and after.progress_current == "check 2 of 5"
    assert store.r.llen("cpu") == 0 and store.r.sismember("grader:running", "abc")
    assert store.queue_position(after) is None


def test_a_run_recorded_by_an_api_killed_before_sending_it_is_sent(redis_url: str, workspace: Path) -> None:
    # The API records an upload ("received"), then sends its task, then marks it queued; killed in between,
    # it leaves a record no worker will ever see. The janitor sends it once the grace has passed.
    settings = settings_for(workspace, suites_dir=SUITES, run_lock_seconds=60)
    store, celery = Store(connect(redis_url)), make_celery(settings, redis_url)
    run_id = uuid.uuid4().hex
    store.add_submission(
        Submission(
            id="unsent",
            assignment="cs224n-a5",
            student="s1",
            role=Role.student,
            blob_sha256="0" * 64,
            filename="s.zip",
            size_bytes=1,
            received_at=NOW,
            run_id=run_id,
            queue="cpu",
            state=SubmissionState.received,
        )
    )
    now = datetime.now(UTC)
    assert sweep(store, celery, settings, now) == []  # within the grace: the API may be sending it right now
    assert store.r.llen("cpu") == 0

    later = now + timedelta(seconds=2 * 60 + 1)
    assert sweep(store, celery, settings, later) == ["unsent"]
    assert json.loads(base64.b64decode(_message(store)["body"]))[0] == ["unsent", run_id]  # type: ignore[arg-type]
    sent = store.get("unsent")
    assert sent is not None and sent.state == SubmissionState.queued and sent.queued_at == later and sent.attempts == 0
    assert sweep(store, celery, settings, later + timedelta(hours=1)) == []  # sent once
    assert store.r.llen("cpu") == 1
