"""A root worker (deliberate: docs/DEPLOY.md) starts without Celery's root warning, and pickle still
cannot be switched on under root by accident."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import pytest
from celery.exceptions import SecurityError, SecurityWarning
from celery.platforms import check_privileges

from grader.worker.celery_app import accept_root_knowingly

ROOT = os.geteuid() == 0


@pytest.fixture
def recorded() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def test_celery_warns_a_root_worker_unless_told_it_is_deliberate(recorded: list[warnings.WarningMessage]) -> None:
    check_privileges(["json"])
    assert [w.category for w in recorded] == ([SecurityWarning] if ROOT else [])  # what we silence exists
    recorded.clear()
    accept_root_knowingly()
    check_privileges(["json"])
    assert recorded == []


def test_only_that_warning_is_silenced(recorded: list[warnings.WarningMessage]) -> None:
    accept_root_knowingly()
    warnings.warn(SecurityWarning("another security warning"), stacklevel=1)
    assert [str(w.message) for w in recorded] == ["another security warning"]


def test_a_root_worker_accepting_pickle_is_still_refused(
    recorded: list[warnings.WarningMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("C_FORCE_ROOT", raising=False)
    accept_root_knowingly()
    if ROOT:
        with pytest.raises(SecurityError):
            check_privileges(["json", "pickle"])
    else:
        check_privileges(["json", "pickle"])
