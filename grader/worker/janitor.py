"""The janitor (rq's abandoned-job idea, C4): put back on the queue what a dead worker was grading,
and send what a stopped API never sent.

A worker killed mid-grade leaves its job unacknowledged; the broker would redeliver it only after its
visibility timeout (hours, since it must exceed the longest grading). A grading whose run lock has
lapsed (no heartbeat for a lock lifetime) has lost its worker, so the janitor re-sends it at once: the
record goes back to "received", and its task is sent as an upload's is (``grader.worker.dispatch``).
A run still "received" a while after it was recorded may never have been sent (the API was killed
between recording it and sending its task): the janitor sends it. A duplicate that the broker delivers
later is harmless: the run lock and the run id make it a no-op.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

from celery import Celery

from grader.config import Settings
from grader.engine.suites import discover
from grader.errors import SuiteError
from grader.models.manifest import Resources, load_manifest
from grader.store.submissions import Store
from grader.worker.dispatch import send_grading

log = logging.getLogger(__name__)


def sweep(store: Store, celery: Celery, settings: Settings, now: datetime) -> list[str]:
    """Send again every abandoned grading, and every run left unsent; their ids."""
    grace = timedelta(seconds=2 * settings.run_lock_seconds)
    requeued = []
    for sub in store.abandoned(now - grace):
        if store.requeue_abandoned(sub.id, now):
            log.warning("re-queued submission %s: its worker stopped while grading it", sub.id)
            send_grading(celery, store, sub.id, sub.run_id, sub.queue, _total_timeout(settings, sub.assignment), now)
            requeued.append(sub.id)
    # An upload is recorded and sent within milliseconds; one still unsent after the grace was interrupted.
    for sub in store.unsent(now - grace):
        log.warning("sent submission %s: it was recorded but its task was not sent", sub.id)
        send_grading(celery, store, sub.id, sub.run_id, sub.queue, _total_timeout(settings, sub.assignment), now)
        requeued.append(sub.id)
    return requeued


def _total_timeout(settings: Settings, assignment: str) -> float:
    """The assignment's grading time limit, for the message's own; the default if its suite is gone or
    broken (the worker then records that it cannot grade it), so that the other re-sends still go out."""
    try:
        folder = discover(settings.suites_dir).get(assignment)
        resources = load_manifest(folder / "suite.toml").resources if folder else Resources()
    except SuiteError:
        resources = Resources()
    return resources.total_timeout_seconds


def start_janitor(settings: Settings, store: Store, celery: Celery, queues: list[str]) -> threading.Event:
    """Run sweeps in a daemon thread (one janitor per round across all workers); set the event to stop.

    The same thread announces which queues this worker consumes, so that the API can send a suite that
    prefers the gpu queue to its fallback queue when no GPU worker is alive.
    """
    stop = threading.Event()
    holder = uuid.uuid4().hex
    interval = settings.janitor_interval_seconds

    def announce() -> None:
        for queue in queues:
            store.announce_consumer(queue, holder, 3 * interval + 5)

    try:
        announce()
    except Exception:  # noqa: BLE001 - Redis may be restarting; the loop announces again
        log.exception("announcing queues failed")

    def loop() -> None:
        while not stop.wait(interval):
            try:
                announce()
                if store.claim_janitor_round(holder, max(1, int(interval))):
                    sweep(store, celery, settings, datetime.now(UTC))
            except Exception:  # noqa: BLE001 - Redis may be restarting; the next round tries again
                log.exception("janitor round failed")

    threading.Thread(target=loop, name="grader-janitor", daemon=True).start()
    return stop
