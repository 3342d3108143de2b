"""Making a process's niceness count on kernels with autogroup scheduling (standard library only: it
runs in the agent, inside the sandbox, and in the worker).

Grading runs at a niceness (``GRADER_WORKER_NICE``) so that, on a shared machine, the API answers
first. But the worker and every sandbox are sessions of their own (``setsid``: process-group kills,
bubblewrap's ``--new-session``), and with ``kernel.sched_autogroup_enabled`` the scheduler first shares
the CPU equally between sessions and only then, inside a session, by niceness. A niced sandbox then
takes as much CPU as the API's whole session. Giving the session's group the same niceness restores
what the setting promises (bench/burst.py measures it as upload latency during a burst).
"""

from __future__ import annotations

import errno
import os
import time

_AUTOGROUP = "/proc/self/autogroup"


def share_niceness_with_session(tries: int = 4) -> bool:
    """Give this process's session group the niceness this process has; False where that is not possible.

    Raising it needs no privilege; without CAP_SYS_ADMIN the kernel accepts one such change per tenth
    of a second on the whole machine (EAGAIN otherwise), hence the short retries.
    """
    nice = os.nice(0)
    if nice == 0:
        return True  # a new session's group already has niceness 0
    for attempt in range(tries):
        try:
            with open(_AUTOGROUP, "w") as handle:
                handle.write(str(nice))
            return True
        except OSError as exc:
            if exc.errno != errno.EAGAIN or attempt == tries - 1:
                return False  # no autogroup (ENOENT), or /proc read-only: niceness alone applies
            time.sleep(0.1)
    return False
