"""One real service (embedded Redis, a Celery worker process, uvicorn) shared by this folder's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.utils.service import Service, running_service


@pytest.fixture(scope="package")
def service() -> Iterator[Service]:
    with running_service(
        "grader-test-service-", GRADER_RATE_LIMIT_COUNT="4", GRADER_UPLOAD_MAX_BYTES=str(5 * 1024**2)
    ) as svc:
        yield svc
