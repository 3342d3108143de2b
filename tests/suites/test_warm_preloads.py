"""A suite's ``[resources] preload`` names modules a real warm sandbox of that suite imports before it is handed out.

The agent skips a preload that fails to import (the student's own import reports it later), so a misspelt
or missing module would silently cost every grading the import it was meant to prepay: this asks a real
warm sandbox, built as the runner builds it (the suite's students' environment mounted), which of them it holds.
A cold sandbox imports none of them: it would pay them on the submission's time, needed or not.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.runner import make_launcher, sandbox_spec
from grader.engine.suites import load_assignment
from grader.sandbox.client import SandboxSession, Student
from grader.sandbox.pool import WarmPool
from tests.utils.builders import settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-preloads-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("assignment", ["csc413-a3", "gsds-a4"])
def test_every_preload_is_imported_in_the_suites_sandbox(assignment: str, workspace: Path) -> None:
    suite = load_assignment(PROJECT_ROOT / "test_suites", assignment)
    settings = settings_for(workspace / assignment)
    empty = workspace / assignment / "submission"
    empty.mkdir(parents=True)
    wanted = list(suite.manifest.resources.preload)
    assert wanted, f"{assignment} declares no preload"
    spec = sandbox_spec(suite, settings, empty)
    probe = f"[m for m in {wanted!r} if m in __import__('sys').modules]"
    pool = WarmPool(make_launcher(settings), settings.scratch_dir, {"cpu": 1}, settings.timeouts)
    try:
        pool.target(spec)
        assert pool.wait_ready("cpu", 180), "no warm sandbox became ready"
        session = SandboxSession(pool, spec, settings.timeouts)
        try:
            held = Student(session).module("builtins").eval(probe)
        finally:
            session.close()
    finally:
        pool.close()
    assert held == wanted, f"not imported by the warm sandbox: {sorted(set(wanted) - set(held))}"

    cold = SandboxSession(make_launcher(settings), spec, settings.timeouts)
    try:
        # torch's own imports (torch.utils.data, tqdm) are there anyway; the suite's extra ones are not.
        assert set(Student(cold).module("builtins").eval(probe)) < set(wanted)
    finally:
        cold.close()
