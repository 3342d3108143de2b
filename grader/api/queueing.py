"""Putting a submission on its queue (the API's only contact with Celery)."""

from __future__ import annotations

import uuid

from fastapi import HTTPException, status

from grader.api.deps import Services, now
from grader.engine.manifest import SuiteManifest
from grader.store.records import Submission, SubmissionState
from grader.worker.celery_app import TASK_GRADE


def enqueue(services: Services, sub: Submission, manifest: SuiteManifest) -> str:
    """Issue a new run for ``sub`` and send it to the manifest's queue; 503 if the broker is down."""
    run_id = uuid.uuid4().hex
    queue = manifest.resources.queue
    services.store.mark_queued(sub.id, run_id, queue, now())
    soft = manifest.resources.total_timeout_seconds + 120  # the engine's own limit fires first
    try:
        services.queue.send_task(TASK_GRADE, args=[sub.id, run_id], queue=queue, soft_time_limit=soft, time_limit=soft + 60)
    except Exception as exc:  # noqa: BLE001 - the broker's many connection errors all mean the same here
        services.store.finish(sub.id, run_id, SubmissionState.error, now(),
                              error="The grading queue is unavailable; the upload is kept and staff can regrade it.")  # fmt: skip
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Grading queue unavailable; your upload is saved") from exc
    return run_id
