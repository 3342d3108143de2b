"""A niced process in a session of its own gives its session's scheduling group the same niceness."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/autogroup").exists(), reason="kernel without autogroup scheduling"
)

SNIPPET = (
    "from grader.sandbox.agent.autogroup import share_niceness_with_session as s; ok = s(); "
    "print(ok, open('/proc/self/autogroup').read().split()[-1])"
)


def _in_new_session(nice: int) -> str:
    out = subprocess.run(["nice", "-n", str(nice), sys.executable, "-c", SNIPPET], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=60, start_new_session=True, check=True)  # fmt: skip
    return out.stdout.strip()


def test_a_niced_session_gets_a_niced_group() -> None:
    assert _in_new_session(7) == "True 7"


def test_niceness_zero_leaves_the_group_alone() -> None:
    assert _in_new_session(0) == "True 0"
