"""Fixtures for the adversarial sandbox tests: a real bwrap sandbox around a submission built in the test."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from grader.models.limits import SandboxLimits, Timeouts
from grader.sandbox.client import SandboxSession, Student
from grader.sandbox.launcher import BwrapLauncher, SandboxSpec
from tests.utils.builders import make_submission, traversable_dir

pytestmark = pytest.mark.bwrap


@pytest.fixture
def sandbox() -> Iterator[Callable[..., Student]]:
    """``sandbox({"attack.py": src}, **limit_overrides)`` -> a Student bound to a fresh real sandbox."""
    sessions: list[SandboxSession] = []
    roots = []

    def start(files: dict[str, str], call_seconds: float = 20, **limits: object) -> Student:
        root = traversable_dir("grader-test-sub-")
        roots.append(root)
        make_submission(root, files)
        spec = SandboxSpec(root, (".",), SandboxLimits().merged({"wall_seconds": 60, **limits}))
        session = SandboxSession(BwrapLauncher(), spec, Timeouts(startup=60, per_call=call_seconds))
        sessions.append(session)
        return Student(session)

    yield start
    for session in sessions:
        session.close()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
