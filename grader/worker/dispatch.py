"""Sending a recorded grading run to its queue, through Celery's own API (``send_task``).

A run is recorded first (state ``received``), then its task is sent, then the record is marked
``queued``. A process stopped between the first and the last step leaves the run ``received``: the
janitor sends it again (``grader.worker.janitor``). A task can so be sent twice, never zero times; the
task id is the run's, and a second delivery of a run finds it locked or finished and grades nothing
(``grader.worker.tasks.grade_job``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from celery import Celery

from grader.store.submissions import Store
from grader.worker.celery_app import TASK_GRADE


def task_id(run_id: str) -> str:
    """The run id (a uuid4's hex) in uuid form: one task id per run, so a worker's log lines name the run."""
    return str(uuid.UUID(hex=run_id))


def send_grading(
    celery: Celery, store: Store, sub_id: str, run_id: str, queue: str, total_timeout_seconds: float, when: datetime
) -> bool:
    """Send ``grade_submission(sub_id, run_id)`` to ``queue``, then mark the record queued at ``when``; False
    when the record had moved on by then (a worker already took the task). Raises what the broker raises."""
    # Celery's limits sit above the assignment's own, so the engine's timeouts fire first.
    soft = total_timeout_seconds + 120
    celery.send_task(
        TASK_GRADE,
        args=[sub_id, run_id],
        queue=queue,
        task_id=task_id(run_id),
        soft_time_limit=soft,
        time_limit=soft + 60,
    )
    return store.mark_sent(sub_id, run_id, queue, when)
