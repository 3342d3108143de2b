"""The warm sandbox pool with real bwrap sandboxes: filled once, never reused, refilled, shut down cleanly."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.errors import SandboxDied
from grader.models.limits import SandboxLimits, Timeouts
from grader.sandbox import pool as pool_module
from grader.sandbox.client import SandboxSession, Student
from grader.sandbox.launcher import BwrapLauncher, SandboxSpec
from grader.sandbox.pool import WarmPool
from tests.utils.builders import make_submission, traversable_dir

pytestmark = pytest.mark.bwrap

PROBE = """
import os

def files():
    return sorted(os.listdir("."))

def leave_mark():
    with open("/tmp/mark", "w") as f:
        f.write("from an earlier submission")
    with open("mark.txt", "w") as f:
        f.write("x")
    return os.getpid()

def sees_mark():
    return os.path.exists("/tmp/mark") or os.path.exists("mark.txt")
"""

LIMITS = SandboxLimits().merged({"wall_seconds": 60})
TIMEOUTS = Timeouts(startup=60, per_call=20)


@pytest.fixture
def world() -> Iterator[Path]:
    root = traversable_dir("grader-pool-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def submission(world: Path, name: str, files: dict[str, str] | None = None) -> SandboxSpec:
    folder = make_submission(world / name, files or {"probe.py": PROBE})
    return SandboxSpec(folder, (".",), LIMITS)


def sandboxes_under(folder: Path) -> list[str]:
    """Host processes whose command line names ``folder`` (every warm sandbox's bwrap does)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(folder).encode() in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except OSError:
            continue
    return found


@pytest.fixture
def pool(world: Path) -> Iterator[WarmPool]:
    warm = WarmPool(BwrapLauncher(), world / "scratch", {"cpu": 1}, TIMEOUTS)
    yield warm
    warm.close()


def test_warm_sandbox_waits_empty_and_is_filled_once(world: Path, pool: WarmPool) -> None:
    spec = submission(world, "a")
    pool.target(spec)
    assert pool.wait_ready("cpu", 60)
    pool.resize("cpu", 0)
    waiting = pool._idle["cpu"][0]
    assert list(waiting.folder.iterdir()) == []  # no submission in it until a job fills it
    session = SandboxSession(pool, spec, TIMEOUTS)
    session.ensure_started()
    assert session.process is waiting.process and pool.stats["warm"] == 1
    assert pool_module.WARM_NOTE in session.process.notes  # the report's sandbox record says so
    assert session.process.deadline > time.monotonic() + LIMITS.wall_seconds - 5  # its clock starts at the fill
    assert Student(session).module("probe").files() == ["probe.py"]
    session.close()
    assert not waiting.process.alive() and not waiting.folder.exists()  # thrown away after one use


def test_never_reused_across_submissions_and_refilled(world: Path, pool: WarmPool) -> None:
    first, second = submission(world, "a"), submission(world, "b")
    pool.target(first)
    assert pool.wait_ready("cpu", 60)
    one = SandboxSession(pool, first, TIMEOUTS)
    Student(one).module("probe").leave_mark()
    used = one.process
    one.close()
    assert pool.wait_ready("cpu", 60)  # refilled in the background
    pool.resize("cpu", 0)
    two = SandboxSession(pool, second, TIMEOUTS)
    assert not Student(two).module("probe").sees_mark()
    assert two.process is not used and used is not None and not used.alive()
    assert pool.stats["warm"] == 2 and pool.stats["cold"] == 0
    two.close()


def test_restart_takes_a_fresh_warm_sandbox_for_the_same_submission(world: Path, pool: WarmPool) -> None:
    spec = submission(world, "a", {"probe.py": PROBE, "bye.py": "import os\ndef leave():\n    os._exit(3)\n"})
    pool.resize("cpu", 2)
    pool.target(spec)
    assert pool.wait_ready("cpu", 90)
    pool.resize("cpu", 0)
    session = SandboxSession(pool, spec, TIMEOUTS)
    student = Student(session)
    student.module("probe").leave_mark()
    with pytest.raises(SandboxDied, match="exited with status 3"):
        student.module("bye").leave()
    session.restart()
    probe = student.module("probe")
    assert probe.files() == ["bye.py", "probe.py"] and not probe.sees_mark()
    assert pool.stats["warm"] == 2 and session.generation == 2 and len(session.ended) == 1
    session.close()


def test_a_replacement_starts_cold_instead_of_waiting_for_a_warm_start_under_way(world: Path, pool: WarmPool) -> None:
    spec = submission(world, "a")
    pool.target(spec)
    assert pool.wait_ready("cpu", 60)
    session = SandboxSession(pool, spec, TIMEOUTS)
    session.ensure_started()  # takes the warm sandbox: the pool starts warming the next one
    deadline = time.monotonic() + 10
    while pool._starting["cpu"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool._starting["cpu"] == 1 and not pool._idle["cpu"]
    session.restart()  # after a failed check
    assert Student(session).module("probe").files() == ["probe.py"]
    assert pool.stats["warm"] == 1 and pool.stats["cold"] == 1 and session.generation == 2
    session.close()
    assert pool.wait_ready("cpu", 60)  # the warm start under way went on for the next grading


def test_a_dead_or_unfillable_warm_sandbox_falls_back_to_a_cold_start(
    world: Path, pool: WarmPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = submission(world, "a")
    pool.target(spec)
    assert pool.wait_ready("cpu", 60)
    pool._idle["cpu"][0].process.kill("killed by the test")
    session = SandboxSession(pool, spec, TIMEOUTS)
    assert Student(session).module("probe").files() == ["probe.py"]
    assert pool.stats["cold"] == 1 and pool.stats["discarded"] == 1
    session.close()

    assert pool.wait_ready("cpu", 60)
    pool.resize("cpu", 0)
    monkeypatch.setattr(pool_module, "_link_tree", lambda source, dest: (_ for _ in ()).throw(OSError("disk full")))
    session = SandboxSession(pool, spec, TIMEOUTS)
    assert Student(session).module("probe").files() == ["probe.py"]
    assert pool.stats["cold"] == 2 and pool.stats["fill_failed"] == 1
    session.close()


def test_another_profile_starts_cold_and_becomes_the_target(world: Path, pool: WarmPool) -> None:
    spec = submission(world, "a")
    pool.target(spec)
    assert pool.wait_ready("cpu", 60)
    other = SandboxSpec(spec.submission_dir, (".",), LIMITS.merged({"pids": 48}))
    session = SandboxSession(pool, other, TIMEOUTS)
    session.ensure_started()
    assert pool.stats["cold"] == 1 and pool.stats["discarded"] == 1  # the old profile's sandbox went
    session.close()
    assert pool.wait_ready("cpu", 60) and pool._idle["cpu"][0].profile.limits.pids == 48


def test_close_leaves_no_sandbox_and_no_folder(world: Path) -> None:
    scratch = world / "scratch"
    warm = WarmPool(BwrapLauncher(), scratch, {"cpu": 2}, TIMEOUTS)
    spec = submission(world, "a")
    warm.target(spec)
    assert warm.wait_ready("cpu", 90)
    session = SandboxSession(warm, spec, TIMEOUTS)
    session.ensure_started()  # one handed out, one idle, one refilling
    assert sandboxes_under(scratch)
    warm.close()
    deadline = time.monotonic() + 5
    while sandboxes_under(scratch) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandboxes_under(scratch) == []
    assert list(scratch.iterdir()) == []
    assert not warm._thread.is_alive()
    session.close()
