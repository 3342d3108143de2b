"""Putting a submission on its queue (the API's only contact with the broker).

The task message goes to the broker in the same Redis transaction as the record that says "queued"
(``grader.worker.messages``): a submission is recorded and queued together, or not at all; when
Redis does not answer, the app's handler says so with a 503 (``grader.api.app``).
"""

from __future__ import annotations

import uuid

from grader.api.deps import Services, now
from grader.engine.manifest import SuiteManifest
from grader.store.records import BrokerMessage, Submission, SubmissionState
from grader.store.submissions import Store
from grader.worker.messages import grading_message


def _fallback_applies(manifest: SuiteManifest) -> bool:
    fallback = manifest.resources.fallback_queue
    return fallback is not None and fallback != manifest.resources.queue


def choose_queue(store: Store, manifest: SuiteManifest) -> str:
    """The manifest's queue, or its fallback when no live worker consumes that queue (no GPU worker)."""
    wanted = manifest.resources.queue
    if _fallback_applies(manifest) and not store.has_consumer(wanted):
        return manifest.resources.fallback_queue or wanted
    return wanted


async def submit(services: Services, sub: Submission, manifest: SuiteManifest) -> Submission:
    """Record a new upload as queued, with its task message, in one Redis transaction (all or nothing)."""
    queue = wanted = manifest.resources.queue
    if _fallback_applies(manifest) and not await services.uploads.has_consumer(wanted):
        queue = manifest.resources.fallback_queue or wanted
    queued = sub.model_copy(update={"run_id": uuid.uuid4().hex, "queue": queue, "state": SubmissionState.queued,
                                    "queued_at": now()})  # fmt: skip
    await services.uploads.add_submission(queued, _message(services, queued.id, queued.run_id, queue, manifest))
    return queued


def enqueue(services: Services, sub: Submission, manifest: SuiteManifest) -> str:
    """Issue a new run for a recorded ``sub`` (a regrade) and queue it, in one transaction (all or nothing)."""
    run_id = uuid.uuid4().hex
    queue = choose_queue(services.store, manifest)
    services.store.mark_queued(sub.id, run_id, queue, now(), _message(services, sub.id, run_id, queue, manifest))
    return run_id


def _message(services: Services, sub_id: str, run_id: str, queue: str, manifest: SuiteManifest) -> BrokerMessage:
    return grading_message(services.queue, sub_id, run_id, queue, manifest.resources.total_timeout_seconds)
