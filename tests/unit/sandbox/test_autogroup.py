"""A niced process in a session of its own gives its session's scheduling group the same niceness.

``nice -n N`` adds N to the niceness of whoever runs it: the expected figures start from the test
runner's own niceness, so the tests hold under ``nice pytest`` as well.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT

pytestmark = pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="kernel without autogroup scheduling")

SNIPPET = (
    "from grader.sandbox.agent.autogroup import share_niceness_with_session as s; ok = s(); "
    "print(ok, open('/proc/self/autogroup').read().split()[-1])"
)


RUNNER_NICE = os.nice(0)


def _in_new_session(nice: int) -> str:
    out = subprocess.run(
        ["nice", "-n", str(nice), sys.executable, "-c", SNIPPET],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
        check=True,
    )
    return out.stdout.strip()


def test_a_niced_session_gets_a_niced_group() -> None:
    assert _in_new_session(7) == f"True {min(RUNNER_NICE + 7, 19)}"


def test_the_group_takes_the_niceness_the_process_already_has() -> None:
    # A new session's group starts at 0: left alone when the process's niceness is 0 too (a runner at
    # niceness 0), set to it otherwise (a runner under `nice`).
    assert _in_new_session(0) == f"True {RUNNER_NICE}"
