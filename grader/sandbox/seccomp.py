"""A tiny seccomp-BPF filter for bubblewrap's ``--seccomp FD``: no sockets but AF_UNIX, no io_uring.

A network namespace alone still lets code bind and connect on its own loopback; the filter makes
``socket(AF_INET, ...)`` fail with EPERM, so "no network" includes 127.0.0.1. ``io_uring`` is refused
because it can open sockets without the ``socket`` system call.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000

_AF_UNIX = 1
_X32_BIT = 0x40000000

# (audit arch, socket nr, socketpair nr, io_uring_setup nr) per machine.
_ARCHES = {
    "x86_64": (0xC000003E, 41, 53, 425),
    "aarch64": (0xC00000B7, 198, 199, 425),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """Compile the filter for this machine (or ``machine``) into bwrap's raw sock_filter array."""
    arch, nr_socket, nr_socketpair, nr_io_uring = _ARCHES[machine or platform.machine()]
    deny = _RET_ERRNO | errno.EPERM
    # Jump offsets count instructions skipped: "jt=4" from index 6 lands on index 11.
    prog = [
        _insn(_LD_W_ABS, 0, 0, 4),  # 0: seccomp_data.arch
        _insn(_JEQ_K, 1, 0, arch),  # 1: our ABI -> 3
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),  # 2: a foreign ABI is never expected
        _insn(_LD_W_ABS, 0, 0, 0),  # 3: seccomp_data.nr
        _insn(_JGE_K, 0, 1, _X32_BIT),  # 4: x32 calls would dodge the numbers below -> 5
        _insn(_RET_K, 0, 0, deny),  # 5
        _insn(_JEQ_K, 4, 0, nr_socket),  # 6: socket -> 11
        _insn(_JEQ_K, 3, 0, nr_socketpair),  # 7: socketpair -> 11
        _insn(_JEQ_K, 0, 1, nr_io_uring),  # 8: io_uring_setup -> 9, else -> 10
        _insn(_RET_K, 0, 0, deny),  # 9
        _insn(_RET_K, 0, 0, _RET_ALLOW),  # 10
        _insn(_LD_W_ABS, 0, 0, 16),  # 11: args[0] low word, the address family
        _insn(_JEQ_K, 0, 1, _AF_UNIX),  # 12: AF_UNIX -> 13, else -> 14
        _insn(_RET_K, 0, 0, _RET_ALLOW),  # 13
        _insn(_RET_K, 0, 0, deny),  # 14
    ]
    return b"".join(prog)


def filter_fd() -> int:
    """An inheritable, rewound file descriptor holding the filter, for ``bwrap --seccomp``."""
    fd = os.memfd_create("grader-seccomp", 0)
    os.write(fd, build_filter())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
