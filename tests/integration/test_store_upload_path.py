"""The store operations an upload makes, on a real Redis: few round trips, and still exact under concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.store.records import Role, Submission, SubmissionState
from grader.store.redis_server import connect
from grader.store.submissions import Admission, Store
from tests.utils.service import RedisServer

pytestmark = pytest.mark.service

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(workspace: Path) -> Iterator[Store]:
    server = RedisServer(workspace).start()
    yield Store(connect(server.url))
    server.stop()


def _submission(sub_id: str, **fields: object) -> Submission:
    return Submission.model_validate(
        {
            "id": sub_id,
            "assignment": "a",
            "student": "s1",
            "role": Role.student,
            "blob_sha256": "0" * 64,
            "filename": "s.zip",
            "size_bytes": 1,
            "received_at": NOW,
            "run_id": "r1",
            **fields,
        }
    )


def _admitting(store: Store, *calls: tuple[str, str, int, float, str]) -> list[Admission]:
    """Run ``Store.admit`` for every call at once, from 16 threads (the API's thread pool) on one store."""
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda call: store.admit(*call), calls))


def test_simultaneous_uploads_cannot_slip_under_the_rate_limit(store: Store) -> None:
    store.add_to_roster("a", ["s1", "s2"])
    admitted = _admitting(store, *(("a", "s1", 5, 3600, f"u{i}") for i in range(40)))  # 16 at once
    assert all(a.on_roster for a in admitted)
    waits = [a.wait for a in admitted]
    assert waits.count(None) == 5
    assert all(1 <= w <= 3600 for w in waits if w is not None)
    # Refused uploads took their records back: the window still holds exactly the five accepted.
    assert store.r.zcard("grader:rate:a:s1") == 5
    assert _admitting(store, ("a", "s2", 5, 3600, "u-s2")) == [Admission(on_roster=True)]  # per student


def test_the_limit_reopens_when_the_window_passes(store: Store) -> None:
    store.add_to_roster("a", ["s1"])
    assert [a.wait for a in _admitting(store, ("a", "s1", 2, 0.3, "u0"), ("a", "s1", 2, 0.3, "u1"))] == [None, None]
    [refused] = _admitting(store, ("a", "s1", 2, 0.3, "u2"))
    assert refused.wait == 1.0  # at least a second is asked for, even when the window is shorter
    store.r.zremrangebyscore("grader:rate:a:s1", 0, "+inf")  # the window passed
    assert _admitting(store, ("a", "s1", 2, 0.3, "u3"))[0].wait is None


def test_a_released_upload_gives_its_place_back(store: Store) -> None:
    store.add_to_roster("a", ["s1"])
    first = [store.admit("a", "s1", 2, 3600, f"u{i}").wait for i in range(3)]
    store.release("a", "s1", "u1")  # its zip was refused after admission
    store.release("a", "s1", "never-admitted")  # harmless
    waits = [*first, store.admit("a", "s1", 2, 3600, "u3").wait]
    assert waits[:2] == [None, None] and waits[2] is not None and waits[3] is None
    assert sorted(store.r.zrange("grader:rate:a:s1", 0, -1)) == ["u0", "u3"]


def test_an_upload_from_off_the_roster_is_refused_and_not_counted(store: Store) -> None:
    store.add_to_roster("a", ["s1"])
    assert _admitting(store, ("a", "s9", 5, 3600, "u1")) == [Admission(on_roster=False)]
    assert store.r.exists("grader:rate:a:s9") == 0
    assert _admitting(store, ("b", "s1", 5, 3600, "u2")) == [Admission(on_roster=False)]  # per assignment


def test_an_upload_is_received_until_its_task_is_sent(store: Store) -> None:
    store.add_submission(_submission("s", queue="cpu", state=SubmissionState.received))
    assert store.queue_position(store.get("s")) is None  # type: ignore[arg-type]  # not in a queue before its task is sent
    assert [s.id for s in store.unsent(datetime.now(UTC))] == ["s"]  # on the janitor's worklist meanwhile
    assert store.mark_sent("s", "other-run", "cpu", NOW) is False  # only the recorded run is marked
    assert store.mark_sent("s", "r1", "cpu", NOW) is True
    sent = store.get("s")
    assert sent is not None and sent.state == SubmissionState.queued and sent.queued_at == NOW
    assert store.queue_position(sent) == 1 and store.unsent(datetime.now(UTC)) == []
    assert store.mark_sent("s", "r1", "cpu", NOW) is False  # once


def test_a_run_a_worker_already_started_is_not_marked_queued(store: Store) -> None:
    # The worker can take the task before the API marks it sent: its "running" must stand.
    store.add_submission(_submission("s", queue="cpu", state=SubmissionState.received))
    store.start_attempt("s", NOW)
    assert store.mark_sent("s", "r1", "cpu", NOW) is False
    after = store.get("s")
    assert after is not None and after.state == SubmissionState.running and store.queue_position(after) is None
    assert store.unsent(datetime.now(UTC)) == [] and store.r.zcard("grader:received") == 0  # dropped from the worklist


def test_a_regrade_is_received_then_queued(store: Store) -> None:
    store.add_submission(_submission("s", attempts=2, error="boom", state=SubmissionState.error))
    store.new_run("s", "r2", "cpu")
    again = store.get("s")
    assert again is not None and (again.run_id, again.state, again.attempts, again.error) == ("r2", "received", 0, "")
    assert store.mark_sent("s", "r2", "cpu", NOW) and store.get("s").state == SubmissionState.queued  # type: ignore[union-attr]


def test_a_queued_new_submission_takes_its_queue_place_in_the_same_write(store: Store) -> None:
    store.add_submission(_submission("new", queue="gpu", queued_at=NOW, state=SubmissionState.queued))
    assert store.queue_position(store.get("new")) == 1  # type: ignore[arg-type]
    assert store.get("new").state == SubmissionState.queued  # type: ignore[union-attr]
    store.add_submission(_submission("unqueued"))  # no queued_at: recorded, not yet in a queue
    assert store.r.zscore("grader:queue:cpu", "unqueued") is None
    assert {s.id for s in store.submissions("a")} == {"new", "unqueued"}


def test_roster_membership_is_one_question(store: Store) -> None:
    store.add_to_roster("a", ["s1", "s2"])
    assert store.on_roster("a", "s1") and not store.on_roster("a", "s3") and not store.on_roster("b", "s1")
