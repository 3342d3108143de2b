"""The store operations an upload makes, on a real Redis: few round trips, and still exact under concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.store.records import Role, Submission, SubmissionState
from grader.store.redis_server import connect
from grader.store.submissions import Store
from tests.utils.service import RedisServer

pytestmark = pytest.mark.service

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(workspace: Path) -> Iterator[Store]:
    server = RedisServer(workspace).start()
    yield Store(connect(server.url))
    server.stop()


def _submission(sub_id: str, **fields: object) -> Submission:
    return Submission.model_validate({"id": sub_id, "assignment": "a", "student": "s1", "role": Role.student,
                                      "blob_sha256": "0" * 64, "filename": "s.zip", "size_bytes": 1,
                                      "received_at": NOW, "run_id": "r1", **fields})  # fmt: skip


def test_simultaneous_uploads_cannot_slip_under_the_rate_limit(store: Store) -> None:
    with ThreadPoolExecutor(16) as pool:
        waits = list(pool.map(lambda _: store.rate_limit("a", "s1", 5, 3600), range(40)))
    assert waits.count(None) == 5
    assert all(1 <= w <= 3600 for w in waits if w is not None)
    # Refused uploads took their records back: the window still holds exactly the five accepted.
    assert store.r.zcard("grader:rate:a:s1") == 5
    assert store.rate_limit("a", "s2", 5, 3600) is None  # per student


def test_the_limit_reopens_when_the_window_passes(store: Store) -> None:
    assert [store.rate_limit("a", "s1", 2, 0.3) for _ in range(2)] == [None, None]
    wait = store.rate_limit("a", "s1", 2, 0.3)
    assert wait == 1.0  # at least a second is asked for, even when the window is shorter
    store.r.zremrangebyscore("grader:rate:a:s1", 0, "+inf")  # the window passed
    assert store.rate_limit("a", "s1", 2, 0.3) is None


def test_a_queued_new_submission_takes_its_queue_place_in_the_same_write(store: Store) -> None:
    store.add_submission(_submission("new", queue="gpu", queued_at=NOW))
    assert store.queue_position(store.get("new")) == 1  # type: ignore[arg-type]
    assert store.get("new").state == SubmissionState.queued  # type: ignore[union-attr]
    store.add_submission(_submission("unqueued"))  # no queued_at: recorded, not yet in a queue
    assert store.r.zscore("grader:queue:cpu", "unqueued") is None
    assert {s.id for s in store.submissions("a")} == {"new", "unqueued"}


def test_roster_membership_is_one_question(store: Store) -> None:
    store.add_to_roster("a", ["s1", "s2"])
    assert store.on_roster("a", "s1") and not store.on_roster("a", "s3") and not store.on_roster("b", "s1")
