"""Report versions on a real Redis: each run's report is kept, a stale run adds none, a report written
before versions were kept becomes version 1 when a regrade replaces it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.store import reports
from grader.store.records import Role, Submission, SubmissionState
from grader.store.redis_server import connect
from grader.store.submissions import Store
from tests.utils.builders import queued_run
from tests.utils.service import RedisServer

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(workspace: Path) -> Iterator[Store]:
    server = RedisServer(workspace).start()
    yield Store(connect(server.url))
    server.stop()


def _added(store: Store, run_id: str = "r1") -> Submission:
    sub = Submission(
        id="s1",
        assignment="a",
        student="kim",
        role=Role.student,
        blob_sha256="0" * 64,
        filename="s.zip",
        size_bytes=1,
        received_at=NOW,
        run_id=run_id,
    )
    store.add_submission(sub)
    return sub


def _run(store: Store, run_id: str, score: float, when: datetime) -> bool:
    queued_run(store, "s1", run_id, "cpu", when)
    return store.finish(
        "s1", run_id, SubmissionState.done, when, report_json=f'{{"score": {score}}}', score=score, max_score=4
    )


def test_each_run_keeps_its_report_and_the_last_is_current(store: Store) -> None:
    _added(store)
    assert reports.versions(store, "s1") == []
    assert _run(store, "r1", 1, NOW) and _run(store, "r2", 3, NOW + timedelta(hours=1))
    kept = reports.versions(store, "s1")
    assert [(v.version, v.run_id, v.score, v.report) for v in kept] == [
        (1, "r1", 1, '{"score": 1}'),
        (2, "r2", 3, '{"score": 3}'),
    ]
    assert kept[1].finished_at == NOW + timedelta(hours=1) and kept[1].max_score == 4
    assert store.report("s1") == '{"score": 3}'  # the current report, as the API reads it, is the newest
    assert reports.version(store, "s1", 1) == kept[0] and reports.version(store, "s1", 3) is None
    assert reports.version(store, "s1", 0) is None


def test_a_superseded_run_adds_no_version_and_an_error_without_report_neither(store: Store) -> None:
    _added(store)
    assert _run(store, "r1", 1, NOW)
    queued_run(store, "s1", "r2", "cpu", NOW)
    assert not store.finish("s1", "r1", SubmissionState.done, NOW, report_json='{"score": 9}', score=9)  # stale
    assert store.finish("s1", "r2", SubmissionState.error, NOW, error="worker lost")  # no report written
    assert [v.run_id for v in reports.versions(store, "s1")] == ["r1"]


def test_a_report_from_before_versions_is_kept_as_version_one(store: Store) -> None:
    _added(store)
    store.r.set("grader:report:s1", '{"score": 2}')  # what an older service wrote: the report only
    store.update("s1", state=SubmissionState.done, score=2.0, max_score=4.0, finished_at=NOW)
    legacy = reports.versions(store, "s1")
    assert [(v.version, v.run_id, v.score, v.report) for v in legacy] == [(1, "", 2.0, '{"score": 2}')]
    assert _run(store, "r2", 4, NOW + timedelta(hours=1))
    kept = reports.versions(store, "s1")
    assert [(v.version, v.run_id, v.score, v.report) for v in kept] == [
        (1, "", 2.0, '{"score": 2}'),
        (2, "r2", 4, '{"score": 4}'),
    ]


def test_the_same_run_written_twice_keeps_one_version(store: Store) -> None:
    _added(store)
    assert _run(store, "r1", 1, NOW)
    assert store.finish("s1", "r1", SubmissionState.done, NOW, report_json='{"score": 2}', score=2, max_score=4)
    assert [(v.version, v.run_id, v.report) for v in reports.versions(store, "s1")] == [(1, "r1", '{"score": 2}')]
