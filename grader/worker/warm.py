"""A warm grading process (a Celery pool child): its sandbox pool and its suites' imports, built from settings.

The pool must live in the process that grades: Celery's prefork children are forked from the worker's
main process, and a fork keeps no threads, so each child builds its own pool when it starts
(``worker_process_init``) and closes it when it ends. With ``warm_pool`` all zero nothing is started
and grading starts every sandbox cold, as before.

The trusted side is warmed too: each child loads its queues' suites when it starts (into the per-process
cache that every job then uses, grader/engine/suites.py), so the first job
does not pay for ``import torch`` (and ``transformers``) in the grading process, ~1.3 s of CPU or more
that otherwise lands on the first submission after every worker start (and, during a deadline burst,
on the API's CPU share: bench/burst.py).
"""

from __future__ import annotations

import atexit
import gc
import logging
import threading
from collections import Counter
from pathlib import Path

import torch
from celery.signals import worker_process_init, worker_process_shutdown

from grader.config import Settings
from grader.engine.runner import make_launcher, sandbox_spec
from grader.engine.suites import Suite, cached_suite, discover
from grader.models.manifest import load_manifest
from grader.sandbox.launcher import SandboxSpec
from grader.sandbox.pool import WarmPool, WarmProfile

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: WarmPool | None = None


def initial_targets(settings: Settings, queues: list[str]) -> list[SandboxSpec]:
    """Per queue, the sandbox spec shared by most installed suites (the first job then retargets)."""
    by_queue: dict[str, Counter[WarmProfile]] = {}
    specs: dict[WarmProfile, SandboxSpec] = {}
    try:
        found = discover(settings.suites_dir)
    except Exception:  # noqa: BLE001 - a broken suite is reported when it is graded, not here
        log.exception("could not list the suites to pre-warm sandboxes for")
        return []
    for path in found.values():
        manifest = load_manifest(path / "suite.toml")
        if manifest.resources.queue not in queues:
            continue
        spec = sandbox_spec(Suite(manifest, (), path), settings, Path("/nonexistent"))
        profile = WarmProfile.of(spec)
        specs.setdefault(profile, spec)
        by_queue.setdefault(manifest.resources.queue, Counter())[profile] += 1
    return [specs[counts.most_common(1)[0][0]] for counts in by_queue.values()]


def pool_for(settings: Settings) -> WarmPool | None:
    """This process's pool, started on first use; None when the settings ask for none."""
    global _pool
    if not any(n > 0 for n in settings.warm_pool.values()):
        return None
    with _lock:
        if _pool is None:
            _pool = WarmPool(make_launcher(settings), settings.scratch_dir, settings.warm_pool, settings.timeouts)
            for spec in initial_targets(settings, settings.queues):
                _pool.target(spec)
        return _pool


def preload_suites(settings: Settings, queues: list[str]) -> list[str]:
    """Import the check modules of every suite graded on ``queues`` (and so their heavy imports); the
    ids loaded. A suite that fails to load is logged and left for its first job to report."""
    loaded = []
    try:
        found = discover(settings.suites_dir)
    except Exception:  # noqa: BLE001 - as in initial_targets
        log.exception("could not list the suites to preload")
        return []
    for assignment, path in found.items():
        resources = load_manifest(path / "suite.toml").resources
        if resources.queue not in queues and resources.fallback_queue not in queues:
            continue
        try:
            cached_suite(path)  # the first job then finds it loaded (grader/worker/tasks.py)
        except Exception:  # noqa: BLE001 - the job that needs it records the error for staff
            log.exception("could not preload suite %s", assignment)
            continue
        loaded.append(assignment)
    return loaded


def close_pool() -> None:
    """Kill this process's warm sandboxes (idempotent)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


def start_process(settings: Settings) -> None:
    """Set up a grading process as it starts: its trusted torch threads, its warm pool, then its suites."""
    torch.set_num_threads(settings.worker_threads)
    pool_for(settings)  # its sandboxes start on the pool's own thread, beside the imports below
    preload_suites(settings, settings.queues)
    # The imports leave ~400,000 long-lived objects (torch, transformers, every suite) that each full
    # collection would walk again: a cs224n-a5 grading makes enough garbage for two, ~0.5 s of its 5 s
    # (bench/suites.py). Frozen, they are never scanned; what a job allocates is collected as before.
    gc.collect()
    gc.freeze()


def install(settings: Settings) -> None:
    """Warm each grading process as it starts (pool, then suites), and close its pool as it ends."""

    def on_start(**_: object) -> None:
        start_process(settings)

    def on_end(**_: object) -> None:
        close_pool()

    worker_process_init.connect(on_start, weak=False)
    worker_process_shutdown.connect(on_end, weak=False)
    atexit.register(close_pool)
