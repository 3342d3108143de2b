"""Thin tasks (C1): load the job, call the engine, write the report. No grading logic here."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from grader.authoring.checks import CheckSpec
from grader.config import Settings
from grader.engine.runner import grade
from grader.engine.suites import cached_assignment
from grader.models.report import TestReport
from grader.store.blobs import BlobStore
from grader.store.records import Submission, SubmissionState
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.worker import warm
from grader.worker.celery_app import TASK_GRADE

log = logging.getLogger(__name__)


class _StoreProgress:
    """Publishes each check's start and end to the submission's record (live progress)."""

    def __init__(self, store: Store, sub_id: str) -> None:
        self.store, self.sub_id = store, sub_id

    def check_started(self, spec: CheckSpec, index: int, total: int) -> None:
        self.store.progress(self.sub_id, index, total, f"{spec.number} {spec.name}", spec.visibility.value)

    def check_finished(self, result: TestReport, index: int, total: int) -> None:
        self.store.progress(self.sub_id, index + 1, total, "")


@contextmanager
def _heartbeat(store: Store, sub_id: str, holder: str, ttl_seconds: int) -> Iterator[None]:
    """Keep the run lock alive while grading (rq's worker heartbeat); a dead worker's lock lapses."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(ttl_seconds / 3):
            try:
                store.refresh_run_lock(sub_id, holder, ttl_seconds)
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                log.warning("could not refresh the run lock of %s", sub_id)

    thread = threading.Thread(target=beat, name=f"heartbeat-{sub_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        store.release_run_lock(sub_id, holder)


def grade_job(settings: Settings, store: Store, sub_id: str, run_id: str) -> str:
    """Grade one submission for one run; returns what happened (for logs and tests).

    ``busy`` means another delivery of this submission is being graded right now: the caller retries
    later, when that one has finished (then this one is a no-op) or its worker has died (lock lapsed).
    """
    sub = store.get(sub_id)
    if sub is None or sub.run_id != run_id:
        return "stale"  # superseded by a regrade, or unknown: nothing to do
    if sub.state in (SubmissionState.done, SubmissionState.error):
        return "already finished"  # a duplicate delivery of a run that completed
    holder = uuid.uuid4().hex
    if not store.acquire_run_lock(sub_id, holder, settings.run_lock_seconds):
        return "busy"
    with _heartbeat(store, sub_id, holder, settings.run_lock_seconds):
        sub = store.get(sub_id)  # re-read under the lock: the other delivery may just have finished
        if sub is None or sub.run_id != run_id:
            return "stale"
        if sub.state in (SubmissionState.done, SubmissionState.error):
            return "already finished"
        return _grade_locked(settings, store, sub, run_id)


def _grade_locked(settings: Settings, store: Store, sub: Submission, run_id: str) -> str:
    sub_id = sub.id
    now = datetime.now(UTC)
    attempts = store.start_attempt(sub_id, now)
    if attempts > settings.max_attempts:
        store.finish(
            sub_id,
            run_id,
            SubmissionState.error,
            now,
            error=(
                f"This submission stopped the grader {attempts - 1} times and was not graded. "
                "Staff have been notified; please check for code that exhausts memory or kills processes."
            ),
        )
        return "poison"
    try:
        suite = cached_assignment(settings.suites_dir, sub.assignment)  # loaded once per process, reloaded on change
        blob = BlobStore(settings.blobs).path(sub.blob_sha256)
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="upload-", dir=settings.scratch_dir) as tmp:
            # The engine names the archive in its messages: give it the student's own file name.
            source = Path(tmp) / (Path(sub.filename).name or "submission.zip")
            shutil.copyfile(blob, source)
            report = grade(
                suite, source, settings, launcher=warm.pool_for(settings), progress=_StoreProgress(store, sub_id)
            )
    except SoftTimeLimitExceeded:
        store.finish(
            sub_id,
            run_id,
            SubmissionState.error,
            datetime.now(UTC),
            error="Grading took longer than this assignment allows and was stopped.",
        )
        return "timeout"
    except Exception:
        # Ours, not the student's (a broken suite, a misconfigured worker): record it so the submission
        # does not stay "running", and keep the traceback for staff in the worker's log.
        log.exception("grading %s failed", sub_id)
        store.finish(
            sub_id,
            run_id,
            SubmissionState.error,
            datetime.now(UTC),
            error="The grader failed on this submission (not your code's fault); staff can regrade it.",
        )
        return "grader error"
    store.finish(
        sub_id,
        run_id,
        SubmissionState.done,
        datetime.now(UTC),
        report_json=report.model_dump_json(),
        score=report.score,
        max_score=report.max_score,
    )
    return "graded"


def register_tasks(app: Celery, settings: Settings, redis_url: str) -> None:
    """Register the grading task on ``app`` (done by the worker process)."""
    stores: dict[int, Store] = {}
    warm.install(settings)  # each grading process keeps its own warm sandboxes, when settings ask for them

    def store() -> Store:
        # One connection per process: prefork children must not share the parent's socket.
        pid = os.getpid()
        if pid not in stores:
            stores.clear()
            stores[pid] = Store(connect(redis_url))
        return stores[pid]

    @app.task(name=TASK_GRADE, bind=True, max_retries=None)  # type: ignore[untyped-decorator]  # Celery's decorator is untyped
    def grade_submission(self: Task, sub_id: str, run_id: str) -> str:
        outcome = grade_job(settings, store(), sub_id, run_id)
        log.info("submission %s run %s: %s", sub_id, run_id, outcome)
        if outcome == "busy":
            # Try again once the other delivery is done, or its dead worker's lock has lapsed.
            raise self.retry(countdown=settings.run_lock_seconds)
        return outcome
