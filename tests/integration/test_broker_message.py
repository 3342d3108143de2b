"""The grading task message the API pushes itself is the one Celery's ``send_task`` would push (real Redis).

The API records a submission and pushes its task message in one transaction (``grader.worker.messages``)
instead of publishing through kombu. If a Celery or kombu upgrade changes what the Redis transport
stores, these tests fail here rather than as jobs no worker picks up.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.config import Settings
from grader.store.redis_server import connect
from grader.worker.celery_app import TASK_GRADE, make_celery
from grader.worker.messages import grade_message
from tests.utils.service import RedisServer

pytestmark = pytest.mark.service

# Values that differ between any two messages (ids, and the sender's name and reply queue).
_PER_MESSAGE = {("headers", "id"), ("headers", "root_id"), ("headers", "origin"), ("properties", "correlation_id"),
                ("properties", "reply_to"), ("properties", "delivery_tag")}  # fmt: skip


@pytest.fixture
def redis_url(workspace: Path) -> Iterator[str]:
    server = RedisServer(workspace).start()
    yield server.url
    server.stop()


def _fields(envelope: dict[str, Any]) -> dict[tuple[str, str], Any]:
    flat: dict[tuple[str, str], Any] = {}
    for part, value in envelope.items():
        for key, inner in value.items() if isinstance(value, dict) else [("", value)]:
            flat[(part, key)] = inner
    return flat


def test_the_pushed_message_matches_what_send_task_pushes(redis_url: str) -> None:
    app = make_celery(Settings(env="test"), redis_url)
    r = connect(redis_url)
    run_id = uuid.uuid4().hex
    app.send_task(TASK_GRADE, args=["sub-1", run_id], queue="cpu", soft_time_limit=300, time_limit=360)
    theirs = json.loads(r.rpop("cpu"))  # type: ignore[arg-type]
    ours_message = grade_message(app, "sub-1", run_id, "cpu", soft_time_limit=300, time_limit=360)
    assert ours_message.key == "cpu"  # kombu's list for the queue (priority 0)
    ours = json.loads(ours_message.payload)

    mine, celerys = _fields(ours), _fields(theirs)
    assert mine.keys() == celerys.keys()
    assert {k: v for k, v in mine.items() if k not in _PER_MESSAGE} == {k: v for k, v in celerys.items() if k not in _PER_MESSAGE}
    body = json.loads(base64.b64decode(ours["body"]))
    assert body[0] == ["sub-1", run_id] and ours["headers"]["timelimit"] == [360, 300]
    # The task is named after its run (a worker's log then names the run), and each message is its own.
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"] == str(uuid.UUID(run_id))
    other = json.loads(grade_message(app, "sub-1", uuid.uuid4().hex, "cpu", 300, 360).payload)
    assert other["properties"]["delivery_tag"] != ours["properties"]["delivery_tag"]


def test_a_message_for_another_queue_goes_to_that_queues_list(redis_url: str) -> None:
    message = grade_message(make_celery(Settings(env="test"), redis_url), "s", uuid.uuid4().hex, "gpu", 10, 70)
    assert message.key == "gpu"
    assert json.loads(message.payload)["properties"]["delivery_info"] == {"exchange": "", "routing_key": "gpu"}
