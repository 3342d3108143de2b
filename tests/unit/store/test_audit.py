"""The audit log on a real Redis: appended in order, listed newest first, filtered and paged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.store import audit
from grader.store.records import Role, Token
from grader.store.redis_server import connect
from grader.store.submissions import Store
from tests.utils.service import RedisServer

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(workspace: Path) -> Iterator[Store]:
    server = RedisServer(workspace).start()
    yield Store(connect(server.url))
    server.stop()


def test_entries_keep_who_when_what_before_and_after(store: Store) -> None:
    ta = Token(role=Role.ta, subject="alice", created_at=NOW)
    audit.record(
        store,
        audit.actor_of(ta),
        "settings.update",
        "a1",
        {"due": None},
        {"due": "2026-12-01T00:00:00Z"},
        assignment="a1",
        when=NOW,
    )
    audit.record(
        store, "ta:bob", "adjustment.add", "a1/s1", None, {"points": 2}, assignment="a1", when=NOW + timedelta(1)
    )
    audit.record(
        store, "cli:root", "token.revoke", "ta:old", {"revoked": False}, {"revoked": True}, when=NOW + timedelta(2)
    )
    listed = audit.entries(store)
    assert [e.action for e in listed] == ["token.revoke", "adjustment.add", "settings.update"]
    first = listed[-1]
    assert (first.actor, first.target, first.at) == ("ta:alice", "a1", NOW)
    assert first.before == {"due": None} and first.after == {"due": "2026-12-01T00:00:00Z"}
    assert [e.action for e in audit.entries(store, assignment="a1")] == ["adjustment.add", "settings.update"]
    assert [e.action for e in audit.entries(store, offset=1, limit=1)] == ["adjustment.add"]
    assert audit.count(store) == 3
