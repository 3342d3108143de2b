"""Who had the CPU during a measured window: the API, grading, the workers, Redis, the benchmark's own clients.

Upload latency in a deadline burst is mostly waiting (bench/burst.py), and on a small machine much of it
is waiting for a core: this tells the share of each part of the service, from the kernel's own per-thread
accounting (``/proc/<pid>/task/<tid>/schedstat``: nanoseconds on a CPU, nanoseconds runnable but waiting
for one), and how long the API's request-serving threads were ready to run but not running.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
ROLES = ("api", "grading", "workers", "redis", "clients", "other")


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (the state is the first)."""
    try:
        return (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _parent(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[1]) if fields else 0


def _role(pid: int, bench_pid: int) -> str:
    """The part of the service ``pid`` belongs to, from its own command line or its nearest known ancestor's."""
    seen = 0
    while pid > 1 and seen < 64:
        command = _cmdline(pid)
        if pid == bench_pid:
            return "clients"
        if "agent/__main__" in command or command.startswith("/usr/bin/bwrap"):
            return "grading"
        if "grader worker" in command:
            return "workers"
        if "grader api" in command:
            return "api"
        if "redis-server" in command:
            return "redis"
        if "grader serve" in command:
            return "other"
        pid, seen = _parent(pid), seen + 1
    return "other"


_NS_PER_TICK = 1e9 / os.sysconf("SC_CLK_TCK")


def _snapshot() -> tuple[dict[tuple[int, int], tuple[int, int]], dict[int, float]]:
    """One pass over /proc: (pid, tid) -> (ns on a CPU, ns runnable and waiting) for every thread alive
    now, and pid -> ns its ended (and waited-for) children ran: a sandbox or a client process that ended
    inside the window is counted through its parent."""
    threads, reaped = {}, {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            for task in (entry / "task").iterdir():
                run, wait = (task / "schedstat").read_text().split()[:2]
                threads[(pid, int(task.name))] = (int(run), int(wait))
        except (OSError, ValueError):
            continue  # the process ended while we looked
        if len(fields := _stat(pid)) > 14:
            reaped[pid] = (int(fields[13]) + int(fields[14])) * _NS_PER_TICK  # cutime + cstime
    return threads, reaped


def _reaped_role(parent_role: str) -> str:
    # A grading process's children are its sandboxes; the benchmark's are its client processes.
    return "grading" if parent_role == "workers" else parent_role


@dataclass
class CpuSplit:
    """Shares of the machine's cores per role over a window, and the API's waiting for a core."""

    seconds: float
    shares: dict[str, float]
    api_waiting: float  # of the time the API's serving threads wanted a core, the part they waited for one

    def as_dict(self) -> dict[str, float]:
        out = {f"cpu_{role}": self.shares.get(role, 0.0) for role in ROLES}
        out["api_waiting_for_cpu"] = self.api_waiting
        return out


class CpuWindow:
    """``start()`` before the measured work and ``stop()`` after it. A thread that began in between counts
    from its start; a process that ended in between counts through its parent once waited for (to the
    clock tick); a thread that ended inside a live process is not seen (the API's and workers' threads
    live as long as their processes)."""

    def __init__(self) -> None:
        self._before: dict[tuple[int, int], tuple[int, int]] = {}
        self._reaped_before: dict[int, float] = {}
        self._started = 0.0

    def start(self) -> None:
        self._before, self._reaped_before = _snapshot()
        self._started = time.monotonic()

    def stop(self) -> CpuSplit:
        after, reaped = _snapshot()
        seconds = time.monotonic() - self._started
        bench_pid, roles = os.getpid(), {}
        ran: dict[str, float] = {}
        api_run = api_wait = 0
        for (pid, tid), (run, wait) in after.items():
            if pid not in roles:
                roles[pid] = _role(pid, bench_pid)
            run0, wait0 = self._before.get((pid, tid), (0, 0))
            ran[roles[pid]] = ran.get(roles[pid], 0.0) + run - run0
            # The main thread of each API process serves the requests (the event loop); its pool threads
            # only write blobs.
            if roles[pid] == "api" and pid == tid:
                api_run, api_wait = api_run + run - run0, api_wait + wait - wait0
        for pid, ns in reaped.items():
            if pid in self._reaped_before and pid in roles:
                role = _reaped_role(roles[pid])
                ran[role] = ran.get(role, 0.0) + ns - self._reaped_before[pid]
        cores = os.cpu_count() or 1
        shares = {role: ns / 1e9 / seconds / cores for role, ns in ran.items()}
        return CpuSplit(seconds, shares, api_wait / (api_run + api_wait) if api_run + api_wait else 0.0)
