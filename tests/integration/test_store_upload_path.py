"""The store operations an upload makes, on a real Redis: few round trips, and still exact under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.store.records import BrokerMessage, Role, Submission, SubmissionState, Token
from grader.store.redis_server import connect, connect_async
from grader.store.submissions import Store
from grader.store.uploads import Admission, UploadStore
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


def _admitting(store: Store, *calls: tuple[str, str, int, float, str]) -> list[Admission]:
    """Run ``UploadStore.admit`` for every call at once (the API's event loop), on its own pool."""
    path = store.r.connection_pool.connection_kwargs["path"]

    async def run() -> list[Admission]:
        uploads = UploadStore(lambda: connect_async(f"redis+socket://{path}", max_connections=16))
        try:
            return list(await asyncio.gather(*(uploads.admit(*call) for call in calls)))
        finally:
            await uploads.close()

    return asyncio.run(run())


def test_simultaneous_uploads_cannot_slip_under_the_rate_limit(store: Store) -> None:
    store.add_to_roster("a", ["s1", "s2"])
    admitted = _admitting(store, *(("a", "s1", 5, 3600, f"u{i}") for i in range(40)))  # 16 connections at once
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
    path = store.r.connection_pool.connection_kwargs["path"]

    async def run() -> list[float | None]:
        uploads = UploadStore(lambda: connect_async(f"redis+socket://{path}"))
        try:
            first = [(await uploads.admit("a", "s1", 2, 3600, f"u{i}")).wait for i in range(3)]
            await uploads.release("a", "s1", "u1")  # its zip was refused after admission
            await uploads.release("a", "s1", "never-admitted")  # harmless
            return [*first, (await uploads.admit("a", "s1", 2, 3600, "u3")).wait]
        finally:
            await uploads.close()

    waits = asyncio.run(run())
    assert waits[:2] == [None, None] and waits[2] is not None and waits[3] is None
    assert sorted(store.r.zrange("grader:rate:a:s1", 0, -1)) == ["u0", "u3"]


def test_an_upload_from_off_the_roster_is_refused_and_not_counted(store: Store) -> None:
    store.add_to_roster("a", ["s1"])
    assert _admitting(store, ("a", "s9", 5, 3600, "u1")) == [Admission(on_roster=False)]
    assert store.r.exists("grader:rate:a:s9") == 0
    assert _admitting(store, ("b", "s1", 5, 3600, "u2")) == [Admission(on_roster=False)]  # per assignment


def test_the_asynchronous_upload_path_keeps_the_same_records(store: Store, workspace: Path) -> None:
    """``UploadStore`` (the API's upload path) and ``Store`` read and write the very same keys."""
    url = store.r.connection_pool.connection_kwargs["path"]
    store.add_to_roster("a", ["s1"])
    issue = datetime(2026, 11, 22, tzinfo=UTC)
    store.save_token("d" * 64, Token(role=Role.student, subject="s1", created_at=issue))
    sub = _submission("async", queue="cpu", queued_at=NOW, state=SubmissionState.queued)

    async def run() -> tuple[Token | None, list[Admission], bool]:
        uploads = UploadStore(lambda: connect_async(f"redis+socket://{url}", max_connections=4))
        await uploads.warm(connections=4)
        token = await uploads.token("d" * 64)
        # More uploads at once than the pool has connections: they wait for one, none fails.
        admitted = await asyncio.gather(*(uploads.admit("a", "s1", 3, 3600, f"u{i}") for i in range(12)))
        await uploads.add_submission(sub, BrokerMessage(key="cpu", payload="{}"))
        consumer = await uploads.has_consumer("cpu")
        await uploads.close()
        return token, list(admitted), consumer

    token, admitted, consumer = asyncio.run(run())
    assert token == store.token("d" * 64)
    assert [a.wait is None for a in admitted].count(True) == 3 and all(a.on_roster for a in admitted)
    assert store.r.zcard("grader:rate:a:s1") == 3
    assert store.get("async") == sub and store.queue_position(sub) == 1
    assert store.r.lrange("cpu", 0, -1) == ["{}"]  # the broker message, in the same transaction
    assert consumer is False


def test_a_regrade_is_recorded_and_queued_together(store: Store) -> None:
    store.add_submission(_submission("s", attempts=2, error="boom", state=SubmissionState.error))
    store.mark_queued("s", "r2", "cpu", NOW, BrokerMessage(key="cpu", payload="m"))
    again = store.get("s")
    assert again is not None and (again.run_id, again.state, again.attempts, again.error) == ("r2", "queued", 0, "")
    assert store.r.lrange("cpu", 0, -1) == ["m"]


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
