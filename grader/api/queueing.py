"""Putting a submission on its queue (the API's only contact with the broker).

A run is recorded (``received``) before its task is sent (``grader.worker.dispatch``): when Redis does
not answer the record is not written and the app's handler says so with a 503 (``grader.api.app``);
when the send fails after the record was written, the janitor sends it (the upload is accepted).
"""

from __future__ import annotations

import logging
import uuid

import redis
from kombu.exceptions import OperationalError

from grader.api.deps import Services, now
from grader.models.manifest import SuiteManifest
from grader.store.records import Submission, SubmissionState
from grader.store.submissions import Store
from grader.worker.dispatch import send_grading

log = logging.getLogger(__name__)


def choose_queue(store: Store, manifest: SuiteManifest) -> str:
    """The manifest's queue, or its fallback when no live worker consumes that queue (no GPU worker)."""
    wanted, fallback = manifest.resources.queue, manifest.resources.fallback_queue
    if fallback is not None and fallback != wanted and not store.has_consumer(wanted):
        return fallback
    return wanted


def submit(services: Services, sub: Submission, manifest: SuiteManifest) -> Submission:
    """Record a new upload, then send its grading task; the record as it then stands."""
    received = sub.model_copy(
        update={
            "run_id": uuid.uuid4().hex,
            "queue": choose_queue(services.store, manifest),
            "state": SubmissionState.received,
        }
    )
    services.store.add_submission(received)
    return _send(services, received, manifest)


def enqueue(services: Services, sub: Submission, manifest: SuiteManifest) -> str:
    """Issue a new run for a recorded ``sub`` (a regrade), then send its task; the run id."""
    run = sub.model_copy(
        update={
            "run_id": uuid.uuid4().hex,
            "queue": choose_queue(services.store, manifest),
            "state": SubmissionState.received,
        }
    )
    services.store.new_run(run.id, run.run_id, run.queue)
    _send(services, run, manifest)
    return run.run_id


def _send(services: Services, sub: Submission, manifest: SuiteManifest) -> Submission:
    try:
        send_grading(
            services.queue,
            services.store,
            sub.id,
            sub.run_id,
            sub.queue,
            manifest.resources.total_timeout_seconds,
            now(),
        )
    except (OperationalError, redis.RedisError):
        # Recorded, so not lost: the janitor sends a run left "received" (grader.worker.janitor).
        log.warning("could not send the task of submission %s; the janitor will", sub.id, exc_info=True)
        return sub
    return sub.model_copy(update={"state": SubmissionState.queued})
