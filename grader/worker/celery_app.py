"""The Celery app, built from settings (no import-time singleton).

Delivery policy, decided deliberately (C2):
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a job is acknowledged only after its report is
  written, so a worker killed mid-grade (OOM, SIGKILL, a lost machine) leaves it to be delivered again.
  Grading is idempotent per ``run_id`` (the store's ``finish`` is a compare-and-set), which is what makes
  redelivery safe.
- A submission that kills its worker every time would loop forever under that policy; the task counts
  attempts per ``run_id`` and gives up with an ``error`` after ``max_attempts`` (poison message guard).
- ``worker_prefetch_multiplier=1``: a worker holds only the job it is grading, so queued jobs stay
  available to idle workers (grading jobs are long and uneven).
- ``visibility_timeout``: how long the Redis broker waits before re-delivering an unacknowledged job of a
  worker that vanished; it must exceed the longest grading run.
- ``accept_content=["json"]``: besides keeping pickle off the broker, it is what lets the worker run as
  root at all (Celery refuses a root worker that accepts pickle, C_FORCE_ROOT aside); see
  ``accept_root_knowingly``.
"""

from __future__ import annotations

import warnings

from celery import Celery
from celery.exceptions import SecurityWarning

from grader.config import Settings

TASK_GRADE = "grader.grade_submission"
ROOT_WARNING = "You're running the worker with superuser privileges"  # the start of Celery's text


def make_celery(settings: Settings, broker_url: str) -> Celery:
    """A Celery app on ``broker_url`` with the delivery policy above; tasks are registered by the worker."""
    app = Celery("grader", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue="cpu",
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


def accept_root_knowingly() -> None:
    """Silence Celery's warning about a root worker, and nothing else (call only as root).

    Root is deliberate (docs/DEPLOY.md, "Why the worker runs as root"): the launcher gives every sandbox
    a private host uid, and switching to it needs CAP_SETUID, which can switch to any uid, root's
    included, so a worker holding only that is not meaningfully less privileged. Celery's warning is
    about task code run as root; ours is the grader's own, the broker carries JSON only (Celery would
    refuse to start with pickle), and student code never runs as root.
    """
    warnings.filterwarnings("ignore", message=ROOT_WARNING, category=SecurityWarning)
