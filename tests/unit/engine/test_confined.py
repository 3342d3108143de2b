"""grader.engine.confined: a trusted-side step over an untrusted file, in a forked child under caps.

Each cap is passed on purpose here, and the parent (this test process) must come out unharmed: the
right exception, no child left behind, nothing of its own touched by the child.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.engine.confined import CapExceeded, Caps, ConfinedCrash, human_bytes, run_confined

_MIB = 1024 * 1024
CAPS = Caps(memory_bytes=64 * _MIB, cpu_seconds=5, wall_seconds=60, file_bytes=_MIB, result_bytes=256 * 1024)


def gone(pid: int) -> bool:
    """The child was reaped: no process, not even a zombie, has its pid."""
    return not Path(f"/proc/{pid}").exists()


def children() -> list[int]:
    """This process's children, zombies included."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def records(n: int) -> Iterator[Any]:
    yield {"pid": os.getpid()}
    for i in range(n):
        yield ["item", i, "é"]


def test_records_come_back_in_order_with_the_childs_figures() -> None:
    out = run_confined(records, 3, caps=CAPS)
    assert out.records[1:] == [["item", 0, "é"], ["item", 1, "é"], ["item", 2, "é"]]
    assert out.records[0]["pid"] != os.getpid() and gone(out.records[0]["pid"])
    assert out.max_rss_bytes > 0 and out.wall_seconds < CAPS.wall_seconds


def hog(pid_file: Path) -> Iterator[int]:
    pid_file.write_text(str(os.getpid()))
    chunks = [bytearray(_MIB) for _ in range(1024)]  # 1 GiB, far past the cap
    yield len(chunks)


def test_memory_cap_stops_the_child_not_the_parent(tmp_path: Path) -> None:
    with pytest.raises(CapExceeded) as info:
        run_confined(hog, tmp_path / "pid", caps=CAPS)
    assert info.value.cap == "memory" and "64 MiB of memory" in str(info.value)
    assert gone(int((tmp_path / "pid").read_text()))
    assert len(bytearray(128 * _MIB)) == 128 * _MIB  # the cap was the child's only


def spin() -> Iterator[None]:
    while True:
        pass
    yield


def test_cpu_cap_kills_a_spinning_child() -> None:
    caps = Caps(memory_bytes=64 * _MIB, cpu_seconds=1, wall_seconds=120, file_bytes=_MIB)
    with pytest.raises(CapExceeded) as info:
        run_confined(spin, caps=caps)
    assert info.value.cap == "time" and "SIGXCPU" in info.value.detail


def sleeper(pid_file: Path) -> Iterator[None]:
    pid_file.write_text(str(os.getpid()))
    yield ["started"]
    time.sleep(3600)


def test_wall_clock_cap_kills_a_sleeping_child_and_keeps_what_it_sent(tmp_path: Path) -> None:
    caps = Caps(memory_bytes=64 * _MIB, cpu_seconds=5, wall_seconds=0.5, file_bytes=_MIB)
    started = time.monotonic()
    with pytest.raises(CapExceeded) as info:
        run_confined(sleeper, tmp_path / "pid", caps=caps)
    assert info.value.cap == "time" and "wall clock" in info.value.detail
    assert info.value.records == [["started"]]
    assert time.monotonic() - started < 30 and gone(int((tmp_path / "pid").read_text()))


def big_file(path: Path) -> Iterator[int]:
    with path.open("wb") as fh:
        fh.write(b"x" * (2 * _MIB))
    yield 1


def test_output_caps_stop_big_files_and_floods(tmp_path: Path) -> None:
    with pytest.raises(CapExceeded) as info:
        run_confined(big_file, tmp_path / "big", caps=CAPS)
    assert info.value.cap == "output" and (tmp_path / "big").stat().st_size <= CAPS.file_bytes

    def flood() -> Iterator[str]:
        while True:
            yield "x" * 10_000

    with pytest.raises(CapExceeded) as flooded:
        run_confined(flood, caps=CAPS)
    assert flooded.value.cap == "output" and "results" in flooded.value.detail
    assert len(flooded.value.records) <= CAPS.result_bytes // 10_000


def test_an_exception_in_the_work_is_a_crash_with_its_traceback() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise KeyError("the bug")

    with pytest.raises(ConfinedCrash) as info:
        run_confined(broken, caps=CAPS)
    assert "KeyError: 'the bug'" in info.value.detail and info.value.records == [1]


def test_inherited_descriptors_are_dev_null_in_the_child() -> None:
    """The worker's sockets and pipes: the child can neither write to them nor shut them down."""
    ours, theirs = socket.socketpair()
    read_end, write_end = os.pipe()

    def meddle() -> Iterator[Any]:
        null = os.stat(os.devnull).st_rdev
        yield [os.fstat(fd).st_rdev == null for fd in (ours.fileno(), write_end, 0, 1, 2)]
        os.write(write_end, b"forged")
        with pytest.raises(OSError):  # not a socket any more: nothing to shut down
            socket.socket(fileno=ours.fileno()).shutdown(socket.SHUT_RDWR)

    try:
        assert run_confined(meddle, caps=CAPS).records == [[True] * 5]
        os.set_blocking(read_end, False)
        with pytest.raises(BlockingIOError):
            os.read(read_end, 10)  # nothing arrived
        ours.sendall(b"still connected")
        assert theirs.recv(100) == b"still connected"
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        ours.close()
        theirs.close()


def test_a_kept_descriptor_is_readable_in_the_child(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"upload")
    with (tmp_path / "f").open("rb") as fh:

        def read() -> Iterator[str]:
            yield fh.read().decode()

        assert run_confined(read, caps=CAPS, keep_fds=(fh.fileno(),)).records == ["upload"]


class _Finalised:
    """Garbage in a cycle whose finalizer acts (as a Redis connection's __del__ shuts its socket down)."""

    def __init__(self, marker: Path) -> None:
        self.marker, self.me = marker, self

    def __del__(self) -> None:
        self.marker.write_text(str(os.getpid()))


def test_the_parents_uncollected_garbage_is_never_finalised_in_the_child(tmp_path: Path) -> None:
    gc.disable()
    try:
        _Finalised(tmp_path / "finalised")  # unreachable now, collected only by the cycle collector

        def collect() -> Iterator[int]:
            yield gc.collect()

        run_confined(collect, caps=CAPS)
        assert not (tmp_path / "finalised").exists()
    finally:
        gc.enable()
    gc.collect()
    assert (tmp_path / "finalised").read_text() == str(os.getpid())  # the parent's own, in the parent


def test_the_parents_signal_handlers_do_not_run_in_the_child() -> None:
    previous = signal.signal(signal.SIGUSR1, lambda *_: None)
    try:

        def handlers() -> Iterator[Any]:
            yield [
                signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL,
                signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN,
            ]

        assert run_confined(handlers, caps=CAPS).records == [[True, True]]
    finally:
        signal.signal(signal.SIGUSR1, previous)


class _Interrupted(Exception):
    pass


def test_an_interrupted_parent_takes_the_child_with_it(tmp_path: Path) -> None:
    """A Celery time limit or Ctrl-C while the child runs: the child is killed and reaped, not orphaned."""

    def interrupt(*_: object) -> None:
        raise _Interrupted

    before = set(children())  # other tests' long-lived children (an embedded Redis) are not this one's
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(_Interrupted):
            run_confined(sleeper, tmp_path / "pid", caps=CAPS)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert set(children()) - before == set()


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (900, 100 * 1024, 64 * _MIB, 1536 * 1024, 1 << 30)] == [
        "900 bytes",
        "100 KiB",
        "64 MiB",
        "1.5 MiB",
        "1 GiB",
    ]


def test_from_a_thread_as_the_api_calls_it(tmp_path: Path) -> None:
    """The API checks uploads on its thread pool: the child of a non-main thread is confined the same."""
    import threading

    found: list[Any] = []

    def handlers() -> Iterator[Any]:
        yield signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
        with (tmp_path / "big").open("wb") as fh:
            fh.write(b"x" * (2 * _MIB))

    def call() -> None:
        try:
            run_confined(handlers, caps=CAPS)
        except CapExceeded as exc:
            found.append((exc.cap, exc.records))

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    assert found == [("output", [True])]
