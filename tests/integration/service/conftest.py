"""One real service (embedded Redis, a Celery worker process, uvicorn) shared by this folder's tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.utils.builders import traversable_dir
from tests.utils.service import Service, leftovers, service_env


@pytest.fixture(scope="package")
def service() -> Iterator[Service]:
    root = traversable_dir("grader-test-service-")
    env = service_env(root, GRADER_RATE_LIMIT_COUNT="4", GRADER_UPLOAD_MAX_BYTES=str(5 * 1024**2))
    svc = Service(root, env).start()
    yield svc
    svc.stop()
    assert leftovers(root) == []
    shutil.rmtree(root, ignore_errors=True)
