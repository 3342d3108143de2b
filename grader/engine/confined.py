"""Run trusted-side code over an untrusted file in a forked child under memory, time and output caps.

The grader's own code reads student files before any sandbox exists: it unpacks the zip and parses
notebooks. That code is trusted, but the input is not, and parsers can be driven to use memory, CPU
or disk far beyond the input's size (a 10 MB notebook of one-line statements builds gigabytes of
syntax tree). :func:`run_confined` runs such a step in a child forked from the worker:

* **memory**: ``RLIMIT_AS`` = the address space the child inherits plus ``Caps.memory_bytes``; past it
  allocations fail (``MemoryError``) instead of the host's OOM killer picking a victim. A child that
  sits at that limit for 0.75 s is killed as out of memory too (CPython can crawl on there, see
  ``_read_bounded``);
* **time**: ``RLIMIT_CPU`` (``SIGXCPU``, then ``SIGKILL`` a second later) and a wall-clock deadline
  kept by the parent, which kills the child with ``SIGKILL`` when it passes;
* **output**: ``RLIMIT_FSIZE`` bounds every file the child writes (``SIGXFSZ`` is ignored, so the write
  fails with ``EFBIG``); the records it sends back are read up to ``Caps.result_bytes``, no further.

``work`` is a generator function; each value it yields is sent back as one line of JSON (never
pickle: nothing the child sends can run code in the parent) and returned in order. Past a cap
:class:`CapExceeded` says which, with the records that arrived before it, so callers can turn it
into a message for the student and keep what was finished. The child may be root, like the worker:
it cannot reach back into the parent beyond those bounded records. Before ``work`` runs it

* points every inherited descriptor (the worker's Redis sockets, sandbox pipes) at ``/dev/null``,
  except the result pipe and ``keep_fds``, so nothing in the child can write to or shut them down;
* freezes the garbage collector's view of the inherited heap (``gc.freeze``): a cycle of the
  parent's that is garbage but not yet collected is never finalized in the child (a Redis
  connection's ``__del__`` would shut down the parent's socket);
* resets every signal handler (the worker's Python handlers must not run in it) and asks to be
  killed if the parent dies (``PR_SET_PDEATHSIG``), and it never returns: it leaves with
  ``os._exit``, running no ``atexit`` hook and no finalizer.

A fork costs the worker ~10 ms of CPU in all (a grading process with torch imported, ~260 MiB
resident: page tables copied, pages copied on write, the child's exit), ~1-2 ms for a small
process; a grading job takes ~1.4 s. So callers fork once per step (one child for all of a
submission's notebooks), not once per file, and the API checks small uploads in its own process.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import json
import os
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CapExceeded", "Caps", "Confined", "ConfinedCrash", "human_bytes", "run_confined"]

_MIB = 1024 * 1024
_END = "end"  # the wrapper's last record: ["end", "ok" | "memory" | "output"] or ["crash", traceback]
_TRACEBACK_CHARS = 8_000
_EXIT_MEMORY, _EXIT_OUTPUT, _EXIT_CRASH = 3, 4, 70  # the child's exit codes when its last record is lost
_PR_SET_PDEATHSIG = 1
# How the parent tells a child stuck at its memory limit (see _read_bounded): looked at every 0.25 s,
# killed after 3 looks in a row within 2 MiB of the limit.
_LOOK_SECONDS, _PINNED_LOOKS, _PINNED_MARGIN_BYTES = 0.25, 3, 2 * _MIB
Cap = Literal["memory", "time", "output"]


def human_bytes(n: float) -> str:
    """``512 MiB``, ``1 GiB``, ``3.5 MiB``, ``900 bytes``: caps and sizes in messages."""
    for unit, size in (("GiB", 1024**3), ("MiB", _MIB), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) or value >= 100 else f"{value:.1f} {unit}"
    return f"{n:.0f} bytes"


@dataclass(frozen=True)
class Caps:
    """What one confined step may use; every field has its unit in its name."""

    memory_bytes: int  # address space the child may add to what it inherits from the worker (RLIMIT_AS)
    cpu_seconds: int  # CPU time of the child (RLIMIT_CPU)
    wall_seconds: float  # the parent kills the child (SIGKILL) this long after forking it
    file_bytes: int  # largest file the child may write (RLIMIT_FSIZE)
    result_bytes: int = _MIB  # most bytes of records read back; past it the child is killed

    def describe(self, cap: Cap) -> str:
        """The cap in words, for messages: ``1 GiB of memory``, ``30 s of CPU time``..."""
        if cap == "memory":
            return f"{human_bytes(self.memory_bytes)} of memory"
        if cap == "time":
            return f"{self.cpu_seconds} s of CPU time or {self.wall_seconds:g} s in all"
        return f"{human_bytes(self.file_bytes)} of output per file"


@dataclass
class Confined:
    """What a confined step sent back, and what it used (for tests and measurements)."""

    records: list[Any]
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # the child's user + system time
    max_rss_bytes: int = 0  # the child's peak resident set, pages shared with the worker included
    inherited_rss_bytes: int = 0  # the worker's resident set when it forked: the part of max_rss not new


class CapExceeded(Exception):
    """The child passed ``cap``; ``records`` are those it sent before, ``detail`` is for staff."""

    def __init__(self, cap: Cap, detail: str, records: list[Any], caps: Caps) -> None:
        super().__init__(f"over the {cap} cap ({caps.describe(cap)}): {detail}")
        self.cap, self.detail, self.records, self.caps = cap, detail, records, caps


class ConfinedCrash(RuntimeError):
    """The child failed for a reason that is no cap (a bug, a full disk); ``detail`` has its traceback."""

    def __init__(self, detail: str, records: list[Any]) -> None:
        super().__init__(detail)
        self.detail, self.records = detail, records


def run_confined(
    work: Callable[..., Iterable[Any]], *args: Any, caps: Caps, keep_fds: tuple[int, ...] = ()
) -> Confined:
    """Run ``work(*args)`` in a forked child under ``caps``; return what it yielded (JSON values).

    Raises :class:`CapExceeded` past a cap and :class:`ConfinedCrash` if ``work`` raised (its
    traceback in ``detail``); ``work`` reports its expected failures as records instead. ``keep_fds``
    are inherited descriptors ``work`` reads (an open upload), left as they are in the child.
    """
    inherited = _rss_bytes()
    inherited_vm = _vm_bytes()
    if not inherited_vm:  # without it the child's RLIMIT_AS would be the cap alone: every step "out of memory"
        raise RuntimeError("cannot read /proc/self/statm: confined steps need Linux's /proc")
    address_space = inherited_vm + caps.memory_bytes  # the child's RLIMIT_AS: what it inherits, plus the cap
    parent = os.getpid()
    _prctl()  # resolved here, once, so the child does no lookup
    read_end, write_end = os.pipe()  # close-on-exec both: a sandbox spawned meanwhile inherits neither
    started = time.monotonic()
    try:
        pid = os.fork()
    except BaseException:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:  # the child: never returns
        _child(work, args, caps, address_space, parent, write_end, read_end, keep_fds)
    os.close(write_end)
    reaped = False
    try:
        data, stopped = _read_bounded(read_end, caps, started, pid, address_space)
        if stopped:
            os.kill(pid, signal.SIGKILL)
        _, status, usage = _wait(pid)
        reaped = True
    finally:
        os.close(read_end)
        if not reaped:  # interrupted (a Celery time limit, Ctrl-C): the child must not outlive this call
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait(pid)
    wall = time.monotonic() - started
    cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
    records, end = _decode(data)
    outcome = Confined(records, wall, cpu, usage.ru_maxrss * 1024 if usage else 0, inherited)
    verdict = _verdict(stopped, status, end, cpu, caps, len(data))
    if verdict is None:
        return outcome
    cap, detail = verdict
    if cap == "crash":
        raise ConfinedCrash(detail, records)
    raise CapExceeded(cap, detail, records, caps)


def _read_bounded(fd: int, caps: Caps, started: float, pid: int, address_space: int) -> tuple[bytes, str]:
    """Read the child's records until it closes the pipe; stop early at the deadline, the size cap, or
    when the child has sat at its address-space limit for a while.

    That last one: at RLIMIT_AS, CPython's allocator cannot map new arenas and falls back to malloc,
    which can still carve objects out of free fragments of the heap the child inherited, one failed
    mmap per allocation, a thousand times slower than usual. A child in that state is out of memory
    even though MemoryError may take minutes to come. Returns the bytes and why reading stopped early
    ("" when it did not; "wall", "result" or "memory")."""
    data = bytearray()
    poller = select.poll()  # not select(): a busy worker's descriptors can pass FD_SETSIZE
    poller.register(fd, select.POLLIN)
    deadline = started + caps.wall_seconds
    next_look, pinned = started + _LOOK_SECONDS, 0
    while True:
        now = time.monotonic()
        if now >= next_look:  # only a child still running after _LOOK_SECONDS is ever looked at
            at_limit = _vm_bytes(pid) >= address_space - _PINNED_MARGIN_BYTES
            pinned = pinned + 1 if at_limit else 0
            if pinned >= _PINNED_LOOKS:
                return bytes(data), "memory"
            next_look = now + _LOOK_SECONDS
        left = deadline - now
        if left <= 0:
            return bytes(data), "wall"
        if not poller.poll(max(1, int(min(left, next_look - now) * 1000))):
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return bytes(data), ""
        data += chunk
        if len(data) > caps.result_bytes:
            return bytes(data[: caps.result_bytes]), "result"


def _wait(pid: int) -> tuple[int, int, resource.struct_rusage | None]:
    try:
        return os.wait4(pid, 0)
    except ChildProcessError:  # someone else reaped it (a SIGCHLD handler): the records still tell
        return pid, 0, None


def _decode(data: bytes) -> tuple[list[Any], list[Any] | None]:
    """The records, and the wrapper's closing record when it arrived whole."""
    records: list[Any] = []
    end: list[Any] | None = None
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            tag, value = json.loads(line)
        except (ValueError, TypeError, RecursionError):
            break  # a line cut by a kill or the size cap: nothing after it counts
        if tag == "r":
            records.append(value)
        else:
            end = [tag, value]
            break
    return records, end


def _verdict(
    stopped: str, status: int, end: list[Any] | None, cpu: float, caps: Caps, size: int
) -> tuple[Cap | Literal["crash"], str] | None:
    """None when the child finished; else (cap or "crash", what happened, for staff)."""
    if stopped == "wall":
        return "time", f"still running after {caps.wall_seconds:g} s (wall clock); killed"
    if stopped == "result":
        return "output", f"sent more than {human_bytes(caps.result_bytes)} of results; killed"
    if stopped == "memory":
        return (
            "memory",
            f"at its address-space limit for {_PINNED_LOOKS * _LOOK_SECONDS:g} s (allocations failing); killed",
        )
    if end is not None and end[0] == _END:
        if end[1] == "ok" and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return None
        if end[1] == "memory":
            return "memory", "the reader raised MemoryError"
        if end[1] == "output":
            return "output", "a write failed with EFBIG (file too large)"
    if end is not None and end[0] == "crash":
        return "crash", str(end[1])
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= caps.cpu_seconds):
            return "time", f"killed by {name} after {cpu:.1f} s of CPU"
        if sig == signal.SIGXFSZ:
            return "output", f"killed by {name}"
        # Out of memory in C code that cannot raise MemoryError: a segfault or abort, or the host's OOM killer.
        return "memory", f"killed by {name} after {cpu:.1f} s of CPU (no result; most likely out of memory)"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if code in (_EXIT_MEMORY, _EXIT_OUTPUT):
        return ("memory" if code == _EXIT_MEMORY else "output"), f"the reader exited with status {code}"
    return "crash", f"the reader exited with status {code} after sending {size} bytes and no result"


def _child(
    work: Callable[..., Iterable[Any]],
    args: tuple[Any, ...],
    caps: Caps,
    address_space: int,
    parent: int,
    out: int,
    other_end: int,
    keep: tuple[int, ...],
) -> None:
    """The forked child: confine itself, run ``work``, send its records, and leave with ``os._exit``."""
    code = _EXIT_CRASH
    try:
        gc.freeze()  # the inherited heap is never collected here: none of the worker's finalizers run
        _reset_signals()
        _die_with_parent(parent)
        os.close(other_end)
        _neutralise_fds(keep_open=(out, *keep))
        _limit(caps, address_space)
        try:
            for record in work(*args):
                _send(out, ["r", record])
            _send(out, [_END, "ok"])
            code = 0
        except MemoryError:
            code = _EXIT_MEMORY  # set first: with memory this short, sending the record may fail too
            _send(out, [_END, "memory"])
        except OSError as exc:
            if exc.errno != errno.EFBIG:
                raise
            code = _EXIT_OUTPUT
            _send(out, [_END, "output"])
    except BaseException:  # noqa: BLE001 - everything becomes a record; the child must reach os._exit
        with contextlib.suppress(BaseException):
            _send(out, ["crash", traceback.format_exc()[-_TRACEBACK_CHARS:]])
    finally:
        os._exit(code)


def _send(fd: int, record: list[Any]) -> None:
    data = memoryview(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    while data:
        data = data[os.write(fd, data) :]


def _reset_signals() -> None:
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_IGN if sig in (signal.SIGXFSZ, signal.SIGPIPE) else signal.SIG_DFL)


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent (the child then only calls it); None off Linux."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None


def _die_with_parent(parent: int) -> None:
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the worker died before prctl took effect
        os._exit(_EXIT_CRASH)


def _neutralise_fds(keep_open: tuple[int, ...]) -> None:
    """Point every inherited descriptor but ``keep_open`` at /dev/null, standard streams included.

    dup2 rather than close: a number freed here could be reused by a file ``work`` opens, which a
    stray ``close()`` of the old number (an inherited object's) would then cut from under it."""
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep_open or fd == null:
            continue
        with contextlib.suppress(OSError):  # the listing's own descriptor, already closed
            os.dup2(null, fd, inheritable=False)
    for fd in (0, 1, 2):
        if fd not in keep_open:
            os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _limit(caps: Caps, address_space: int) -> None:
    # CPU: SIGXCPU at the soft limit, and the kernel's SIGKILL at the hard one a second later.
    for which, soft, hard in (
        (resource.RLIMIT_AS, address_space, address_space),
        (resource.RLIMIT_CPU, caps.cpu_seconds, caps.cpu_seconds + 1),
        (resource.RLIMIT_FSIZE, caps.file_bytes, caps.file_bytes),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        _, current = resource.getrlimit(which)
        if current != resource.RLIM_INFINITY:  # never above what the worker itself was given
            soft, hard = min(soft, current), min(hard, current)
        resource.setrlimit(which, (soft, hard))


def _vm_bytes(pid: int | str = "self") -> int:
    """The address space of ``pid`` (this process by default) now; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0
