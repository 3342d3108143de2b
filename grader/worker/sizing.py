"""The warm pool ``grader serve`` keeps when the operator sets none: sized from the machine's memory and cores.

A warm sandbox is an idle interpreter with torch (and a suite's preload) imported: it costs memory while it
waits and one sandbox start of CPU when it is refilled (the same start a cold job pays, moved off the
student's wait). So: one per queue per grading process, as long as all of them fit in a quarter of the
memory available at start (the rest is for the sandboxes that grade), and none on a one-core machine,
where the refill would run on the core the job being graded needs.
"""

from __future__ import annotations

import os
from pathlib import Path

#: One idle warm sandbox (bwrap, agent, torch and the suite's preload imported): 181-418 MiB proportional set
#: size for the four suites (``bench/suites.py --memory``, docs/DEPLOY.md); counted with headroom for pages it
#: stops sharing.
WARM_SANDBOX_BYTES = 512 * 2**20
#: Share of the memory available at start that warm sandboxes may hold.
MEMORY_SHARE = 0.25


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int:
    """MemAvailable in bytes (0 when unknown: then no pool is started)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def default_warm_pool(queues: list[str], processes: int, memory: int, cores: int) -> dict[str, int]:
    """Warm sandboxes per queue for each grading process: 1 per queue while they fit, cpu first, else 0."""
    if cores < 2 or processes < 1:
        return dict.fromkeys(queues, 0)
    budget = int(memory * MEMORY_SHARE)
    sizes: dict[str, int] = {}
    # cpu before gpu: most suites are graded on cpu, and a gpu machine has the memory for both.
    for queue in sorted(queues, key=lambda q: q != "cpu"):
        fits = budget >= processes * WARM_SANDBOX_BYTES
        sizes[queue] = 1 if fits else 0
        budget -= processes * WARM_SANDBOX_BYTES * sizes[queue]
    return sizes


def machine_warm_pool(queues: list[str], processes: int) -> dict[str, int]:
    """:func:`default_warm_pool` for this machine."""
    return default_warm_pool(queues, processes, available_memory(), os.cpu_count() or 1)
