"""Putting a submission on its queue (the API's only contact with Celery)."""

from __future__ import annotations

import uuid

from fastapi import HTTPException, status

from grader.api.deps import Services, now
from grader.engine.manifest import SuiteManifest
from grader.store.records import Submission, SubmissionState
from grader.store.submissions import Store
from grader.worker.celery_app import TASK_GRADE


def choose_queue(store: Store, manifest: SuiteManifest) -> str:
    """The manifest's queue, or its fallback when no live worker consumes that queue (no GPU worker)."""
    wanted, fallback = manifest.resources.queue, manifest.resources.fallback_queue
    if fallback is not None and fallback != wanted and not store.has_consumer(wanted):
        return fallback
    return wanted


def submit(services: Services, sub: Submission, manifest: SuiteManifest) -> Submission:
    """Record a new upload as queued and send it to its queue (one Redis transaction, then the broker)."""
    queued = sub.model_copy(update={"run_id": uuid.uuid4().hex, "queue": choose_queue(services.store, manifest),
                                    "state": SubmissionState.queued, "queued_at": now()})  # fmt: skip
    services.store.add_submission(queued)
    _send(services, queued.id, queued.run_id, queued.queue, manifest)
    return queued


def enqueue(services: Services, sub: Submission, manifest: SuiteManifest) -> str:
    """Issue a new run for a recorded ``sub`` (a regrade) and send it to its queue; 503 if the broker is down."""
    run_id = uuid.uuid4().hex
    queue = choose_queue(services.store, manifest)
    services.store.mark_queued(sub.id, run_id, queue, now())
    _send(services, sub.id, run_id, queue, manifest)
    return run_id


def _send(services: Services, sub_id: str, run_id: str, queue: str, manifest: SuiteManifest) -> None:
    soft = manifest.resources.total_timeout_seconds + 120  # the engine's own limit fires first
    try:
        services.queue.send_task(TASK_GRADE, args=[sub_id, run_id], queue=queue, soft_time_limit=soft, time_limit=soft + 60)
    except Exception as exc:  # noqa: BLE001 - the broker's many connection errors all mean the same here
        services.store.finish(sub_id, run_id, SubmissionState.error, now(),
                              error="The grading queue is unavailable; the upload is kept and staff can regrade it.")  # fmt: skip
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Grading queue unavailable; your upload is saved") from exc
