"""Shared fixtures: every test starts from an environment without operator settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from grader.config import get_settings


@pytest.fixture(autouse=True)
def _clean_grader_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Drop GRADER_* and REDIS_URL from the environment and forget cached settings, around each test.

    pydantic-settings matches variable names case-insensitively, so ``grader_env`` is dropped too.
    """
    for name in list(os.environ):
        if name.upper().startswith("GRADER_") or name.upper() == "REDIS_URL":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
