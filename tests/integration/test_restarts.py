"""A failed check costs a fresh sandbox only when it sent the sandbox something (so ran student code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.engine.runner import grade
from grader.engine.suites import load_suite
from tests.utils.builders import TOY_SUITES, make_submission, settings_for

pytestmark = pytest.mark.bwrap

PROBE = """
import os

def leave_mark():
    open("/tmp/mark", "w").close()

def marked():
    return os.path.exists("/tmp/mark")
"""


def test_only_a_failed_check_that_reached_the_sandbox_replaces_it(workspace: Path) -> None:
    submission = make_submission(workspace / "submission", {"probe.py": PROBE})
    settings = settings_for(workspace / "var", suites_dir=TOY_SUITES)
    report = grade(load_suite(TOY_SUITES / "restarts"), submission, settings)
    results = {t.number: t.result for t in report.tests}
    assert results == {"1": "passed", "2": "failed", "3": "passed", "4": "failed", "5": "passed"}, [
        t.output for t in report.tests
    ]
    assert [s.generation for s in report.sandboxes] == [1, 2]  # replaced once: after check 4, not check 2
