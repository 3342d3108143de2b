"""Regrade requests on a real Redis: created, listed per submission and assignment, answered, audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.store import audit
from grader.store.redis_server import connect
from grader.store.regrades import RegradeRequests, RequestState
from grader.store.submissions import Store
from tests.utils.service import RedisServer


@pytest.fixture
def store(workspace: Path) -> Iterator[Store]:
    server = RedisServer(workspace).start()
    yield Store(connect(server.url))
    server.stop()


def test_requests_are_listed_answered_and_audited(store: Store) -> None:
    requests = RegradeRequests(store)
    first = requests.create("a", "s1", "kim", "check 2 marked a right answer wrong", "2", "student:kim", 1)
    other = requests.create("a", "s2", "lee", "please look again", "", "student:lee", 2)
    requests.create("b", "s3", "kim", "elsewhere", "", "student:kim", 1)
    assert [q.id for q in requests.of_submission("s1")] == [first.id]
    assert [q.id for q in requests.of_assignment("a")] == [first.id, other.id]
    done = requests.resolve(first, RequestState.declined, "The label is right: see the handout, 2.1.", "ta:tina")
    assert (done.state, done.answer, done.resolved_by) == (
        RequestState.declined,
        "The label is right: see the handout, 2.1.",
        "ta:tina",
    )
    assert done.resolved_at is not None and requests.get(first.id) == done
    assert [q.id for q in requests.of_assignment("a", RequestState.open)] == [other.id]
    assert requests.get("nope") is None and requests.of_submission("nope") == []
    log = audit.entries(store, assignment="a")
    assert [(e.action, e.actor, e.target) for e in log] == [
        ("regrade_request.declined", "ta:tina", "s1"),
        ("regrade_request.create", "student:lee", "s2"),
        ("regrade_request.create", "student:kim", "s1"),
    ]
    assert log[0].before["state"] == "open" and log[0].after["state"] == "declined"
    assert log[2].after["message"] == "check 2 marked a right answer wrong"
