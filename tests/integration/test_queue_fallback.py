"""A suite that prefers the gpu queue goes there only while a live worker consumes it (real Redis)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.api.queueing import choose_queue
from grader.models.manifest import SuiteManifest
from grader.store.redis_server import connect
from grader.store.submissions import Store
from grader.worker.celery_app import make_celery
from grader.worker.janitor import start_janitor
from tests.utils.builders import settings_for
from tests.utils.service import RedisServer

pytestmark = pytest.mark.service


@pytest.fixture
def redis_url(workspace: Path) -> Iterator[str]:
    server = RedisServer(workspace).start()
    yield server.url
    server.stop()


def _manifest(**resources: object) -> SuiteManifest:
    return SuiteManifest.model_validate({"id": "m", "title": "M", "total_points": 1, "resources": resources})


def test_gpu_suite_falls_back_to_cpu_until_a_gpu_worker_is_alive(redis_url: str) -> None:
    store = Store(connect(redis_url))
    prefers_gpu = _manifest(queue="gpu", fallback_queue="cpu")
    assert choose_queue(store, prefers_gpu) == "cpu"
    store.announce_consumer("gpu", "worker-1", ttl_seconds=0.5)
    assert choose_queue(store, prefers_gpu) == "gpu"
    time.sleep(0.8)  # the worker stopped renewing its claim: it is gone
    assert choose_queue(store, prefers_gpu) == "cpu"


def test_without_a_fallback_the_manifest_queue_is_kept(redis_url: str) -> None:
    store = Store(connect(redis_url))
    assert choose_queue(store, _manifest(queue="gpu")) == "gpu"  # waits for a GPU worker, as configured
    assert choose_queue(store, _manifest()) == "cpu"


def test_a_worker_announces_its_queues_as_soon_as_it_starts(redis_url: str, workspace: Path) -> None:
    settings = settings_for(workspace)
    store = Store(connect(redis_url))
    stop = start_janitor(settings, store, make_celery(settings, redis_url), ["gpu"])
    try:
        assert store.has_consumer("gpu") and not store.has_consumer("cpu")
    finally:
        stop.set()
