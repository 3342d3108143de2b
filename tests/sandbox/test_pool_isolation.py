"""Key escape tests of ``test_isolation`` again, each against a sandbox that came from the warm pool.

The tests are imported unchanged; only the ``sandbox`` fixture differs: it warms a sandbox with the
test's limits, then fills it with the test's submission (asserting it really was a warm one).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest

from grader.errors import SandboxTimeout
from grader.models.limits import SandboxLimits, Timeouts
from grader.sandbox.client import SandboxSession, Student
from grader.sandbox.launcher import BwrapLauncher, SandboxSpec
from grader.sandbox.pool import WARM_NOTE, WarmPool
from tests.sandbox.test_isolation import (  # noqa: F401 - re-collected here with the pooled fixture
    tcp_listener,
    test_grader_environment_is_not_inherited,
    test_hidden_suites_and_data_are_not_visible,
    test_runs_as_non_root_and_sees_only_its_own_processes,
    test_system_is_read_only_and_submission_copy_is_private,
    test_tcp_to_host_loopback_is_refused,
)
from tests.utils.builders import make_submission, traversable_dir

pytestmark = pytest.mark.bwrap


@pytest.fixture
def sandbox() -> Iterator[Callable[..., Student]]:
    """Like ``tests/sandbox/conftest.py``'s fixture, but every sandbox is taken from a warm pool."""
    pools: list[WarmPool] = []
    sessions: list[SandboxSession] = []
    roots = []

    def start(files: dict[str, str], call_seconds: float = 20, **limits: object) -> Student:
        root = traversable_dir("grader-test-pooled-")
        roots.append(root)
        make_submission(root / "submission", files)
        spec = SandboxSpec(root / "submission", (".",), SandboxLimits().merged({"wall_seconds": 60, **limits}))
        timeouts = Timeouts(startup=60, per_call=call_seconds)
        pool = WarmPool(BwrapLauncher(), root / "scratch", {"cpu": 1}, timeouts)
        pools.append(pool)
        pool.target(spec)
        assert pool.wait_ready("cpu", 60)
        pool.resize("cpu", 0)  # one sandbox is all this test uses: no refill competing for the CPU
        session = SandboxSession(pool, spec, timeouts)
        sessions.append(session)
        session.ensure_started()
        assert pool.stats["warm"] == 1, pool.stats
        return Student(session)

    yield start
    for session in sessions:
        session.close()
    for pool in pools:
        pool.close()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


def test_fork_bomb_is_contained(sandbox: Callable[..., Student]) -> None:
    """``test_isolation``'s fork bomb; its only note besides the pool's must be none (a private uid as root)."""
    bomb = "import os\ndef boom():\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
    student = sandbox({"bomb.py": bomb}, call_seconds=3, pids=32)
    notes = student._session.ensure_started().notes
    assert WARM_NOTE in notes
    assert [n for n in notes if n != WARM_NOTE] == [] or os.geteuid() != 0
    with pytest.raises(SandboxTimeout):
        student.module("bomb").boom()
    assert student.module("bomb") is not None  # the machine still has room for a fresh sandbox
