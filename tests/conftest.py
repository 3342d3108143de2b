"""Shared fixtures: every test starts from an environment without operator settings."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import get_settings
from tests.utils.builders import traversable_dir


@pytest.fixture(autouse=True)
def _clean_grader_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Drop GRADER_* and the other variables Settings reads (REDIS_URL, HF_HOME, CUDA_VISIBLE_DEVICES) and forget cached settings, around each test.

    pydantic-settings matches variable names case-insensitively, so ``grader_env`` is dropped too.
    """
    for name in list(os.environ):
        if name.upper().startswith("GRADER_") or name.upper() in ("REDIS_URL", "HF_HOME", "CUDA_VISIBLE_DEVICES"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A fresh folder under /tmp that a sandbox's private uid can reach (pytest's tmp_path is 0700)."""
    root = traversable_dir("grader-test-")
    yield root
    shutil.rmtree(root, ignore_errors=True)
