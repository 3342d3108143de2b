"""The grading task's broker message, built here so that recording a submission and queueing it can be
one Redis transaction (the broker is the same Redis: ``make_celery(settings, redis_url)``).

Celery's ``send_task`` publishes on its own connection after the record is written: two steps (a
process killed between them leaves a submission "queued" that no worker will ever see) and, on the
upload path, about 1 ms of CPU and two more round trips per upload (bench/burst.py). Instead, Celery
builds the task message (protocol 2: headers, properties, body) and this module wraps it the way
kombu's Redis transport stores it: a JSON envelope pushed onto the list named after the queue, which
the worker's BRPOP takes like any other. ``tests/integration/test_broker_message.py`` compares the envelope
with the one ``send_task`` itself pushes, so a Celery or kombu upgrade that changes it fails there.
"""

from __future__ import annotations

import base64
import json
import uuid

from celery import Celery

from grader.store.records import BrokerMessage
from grader.worker.celery_app import TASK_GRADE


def grade_message(
    app: Celery, sub_id: str, run_id: str, queue: str, soft_time_limit: float, time_limit: float
) -> BrokerMessage:
    """The ``grade_submission(sub_id, run_id)`` task for ``queue``, as ``send_task`` would publish it.

    The task id is the run id (a uuid4's hex) in uuid form, so a worker's log lines name the run."""
    task_id = str(uuid.UUID(hex=run_id))
    args = [sub_id, run_id]
    headers, properties, body, _ = app.amqp.as_task_v2(
        task_id, TASK_GRADE, args=args, kwargs={},
        time_limit=time_limit, soft_time_limit=soft_time_limit, origin=app.conf.get("origin") or "grader-api",
        ignore_result=None,  # as send_task sends it: the task's own setting (task_ignore_result) decides
        # Two short ids: repr is what Celery's saferepr would write, at a fraction of its cost per upload.
        argsrepr=repr(args), kwargsrepr="{}",
    )  # fmt: skip
    envelope = {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            **properties,
            "delivery_mode": 2,  # persistent, as Celery's default queues declare
            "delivery_info": {"exchange": "", "routing_key": queue},  # the default exchange: straight to the queue
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": task_id,  # unique per message, as kombu's own: one message per run
        },
    }
    return BrokerMessage(key=queue, payload=json.dumps(envelope))


def grading_message(app: Celery, sub_id: str, run_id: str, queue: str, total_timeout_seconds: float) -> BrokerMessage:
    """``grade_message`` with the time limits every grading run gets (a first delivery, a regrade or the
    janitor's re-send): Celery's limits sit above the assignment's own, so the engine's fire first."""
    soft = total_timeout_seconds + 120
    return grade_message(app, sub_id, run_id, queue, soft_time_limit=soft, time_limit=soft + 60)
