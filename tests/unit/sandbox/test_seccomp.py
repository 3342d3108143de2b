"""Tests for grader.sandbox.seccomp: the BPF program's structure, and what it decides, run in a tiny interpreter."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from grader.sandbox import seccomp
from grader.sandbox.seccomp import build_filter

INSN = struct.Struct("=HBBI")
MACHINES = ("x86_64", "aarch64")

BPF_CLASS_MASK = 0x07
BPF_LD, BPF_JMP, BPF_RET = 0x00, 0x05, 0x06

RET_ALLOW = 0x7FFF0000
RET_EPERM = 0x00050000 | errno.EPERM
RET_KILL_PROCESS = 0x80000000

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
# (audit arch, read, socket, socketpair, io_uring_setup) from the kernel's syscall tables.
SYSCALLS = {
    "x86_64": (0xC000003E, 0, 41, 53, 425),
    "aarch64": (0xC00000B7, 63, 198, 199, 425),
}
AUDIT_ARCH_I386 = 0x40000003


def instructions(machine: str) -> list[tuple[int, int, int, int]]:
    prog = build_filter(machine)
    return [INSN.unpack_from(prog, i) for i in range(0, len(prog), INSN.size)]


def run_filter(machine: str, nr: int, args: tuple[int, ...] = (), arch: int | None = None) -> int:
    """Evaluate the filter for one system call, the way the kernel's classic-BPF interpreter would."""
    arch = SYSCALLS[machine][0] if arch is None else arch
    padded = (list(args) + [0] * 6)[:6]
    data = struct.pack("=iIQ6Q", nr, arch, 0x400000, *padded)  # struct seccomp_data
    prog = instructions(machine)
    acc, pc, steps = 0, 0, 0
    while True:
        steps += 1
        assert steps <= len(prog), "the program loops"
        code, jt, jf, k = prog[pc]
        if code == 0x20:  # BPF_LD | BPF_W | BPF_ABS
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == 0x15:  # BPF_JMP | BPF_JEQ | BPF_K
            pc += 1 + (jt if acc == k else jf)
        elif code == 0x35:  # BPF_JMP | BPF_JGE | BPF_K
            pc += 1 + (jt if acc >= k else jf)
        elif code == 0x06:  # BPF_RET | BPF_K
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x} at {pc}")


# ----------------------------------------------------------------------------- structure


@pytest.mark.parametrize("machine", MACHINES)
def test_filter_builds_for_the_machine(machine: str) -> None:
    assert build_filter(machine)


@pytest.mark.parametrize("machine", MACHINES)
def test_filter_length_is_a_whole_number_of_8_byte_instructions(machine: str) -> None:
    prog = build_filter(machine)
    assert INSN.size == 8
    assert len(prog) % 8 == 0


@pytest.mark.parametrize("machine", MACHINES)
def test_filter_fits_the_kernel_instruction_limit(machine: str) -> None:
    assert len(instructions(machine)) <= 4096


@pytest.mark.parametrize("machine", MACHINES)
def test_every_jump_target_is_inside_the_program(machine: str) -> None:
    prog = instructions(machine)
    for pc, (code, jt, jf, _k) in enumerate(prog):
        if code & BPF_CLASS_MASK == BPF_JMP:
            assert pc + 1 + jt < len(prog), f"jt of instruction {pc} leaves the program"
            assert pc + 1 + jf < len(prog), f"jf of instruction {pc} leaves the program"


@pytest.mark.parametrize("machine", MACHINES)
def test_no_instruction_falls_off_the_end(machine: str) -> None:
    prog = instructions(machine)
    for pc, (code, *_rest) in enumerate(prog):
        if code & BPF_CLASS_MASK not in (BPF_JMP, BPF_RET):
            assert pc + 1 < len(prog), f"instruction {pc} falls through past the end"


@pytest.mark.parametrize("machine", MACHINES)
def test_last_instruction_is_a_return(machine: str) -> None:
    code, *_ = instructions(machine)[-1]
    assert code & BPF_CLASS_MASK == BPF_RET


@pytest.mark.parametrize("machine", MACHINES)
def test_every_return_gives_allow_eperm_or_kill(machine: str) -> None:
    returns = {k for code, _jt, _jf, k in instructions(machine) if code & BPF_CLASS_MASK == BPF_RET}
    assert returns == {RET_ALLOW, RET_EPERM, RET_KILL_PROCESS}


@pytest.mark.parametrize("machine", MACHINES)
def test_first_instruction_loads_the_architecture(machine: str) -> None:
    assert instructions(machine)[0] == (0x20, 0, 0, 4)  # seccomp_data.arch sits at offset 4


@pytest.mark.parametrize("machine", MACHINES)
def test_loads_read_only_inside_seccomp_data(machine: str) -> None:
    for code, _jt, _jf, k in instructions(machine):
        if code & BPF_CLASS_MASK == BPF_LD:
            assert k % 4 == 0 and k + 4 <= 64


def test_the_two_machines_differ_in_their_architecture_constant() -> None:
    assert build_filter("x86_64") != build_filter("aarch64")
    assert instructions("x86_64")[1][3] == SYSCALLS["x86_64"][0]
    assert instructions("aarch64")[1][3] == SYSCALLS["aarch64"][0]


def test_unknown_machine_is_refused() -> None:
    with pytest.raises(KeyError):
        build_filter("riscv64")


def test_default_machine_builds_on_this_host() -> None:
    import platform

    if platform.machine() not in MACHINES:
        pytest.skip(f"no filter for {platform.machine()}")
    assert build_filter() == build_filter(platform.machine())


def test_filter_fd_holds_the_filter_rewound_to_the_start() -> None:
    fd = seccomp.filter_fd()
    try:
        prog = build_filter()
        assert os.read(fd, len(prog) + 100) == prog
    finally:
        os.close(fd)


def test_filter_fd_is_inheritable_for_bwrap() -> None:
    fd = seccomp.filter_fd()
    try:
        assert os.get_inheritable(fd)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- decisions


@pytest.mark.parametrize("machine", MACHINES)
def test_ordinary_system_calls_are_allowed(machine: str) -> None:
    assert run_filter(machine, SYSCALLS[machine][1]) == RET_ALLOW


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("family", [AF_INET, AF_INET6, AF_NETLINK, 0])
def test_socket_of_any_family_but_unix_fails_with_eperm(machine: str, family: int) -> None:
    assert run_filter(machine, SYSCALLS[machine][2], (family, 1, 0)) == RET_EPERM


@pytest.mark.parametrize("machine", MACHINES)
def test_unix_sockets_are_allowed(machine: str) -> None:
    assert run_filter(machine, SYSCALLS[machine][2], (AF_UNIX, 1, 0)) == RET_ALLOW


@pytest.mark.parametrize("machine", MACHINES)
def test_unix_socketpairs_are_allowed_and_inet_ones_refused(machine: str) -> None:
    nr = SYSCALLS[machine][3]
    assert run_filter(machine, nr, (AF_UNIX, 1, 0)) == RET_ALLOW
    assert run_filter(machine, nr, (AF_INET, 1, 0)) == RET_EPERM


@pytest.mark.parametrize("machine", MACHINES)
def test_io_uring_setup_fails_with_eperm(machine: str) -> None:
    assert run_filter(machine, SYSCALLS[machine][4], (8, 0)) == RET_EPERM


@pytest.mark.parametrize("machine", MACHINES)
def test_a_foreign_abi_kills_the_process(machine: str) -> None:
    assert run_filter(machine, SYSCALLS[machine][1], arch=AUDIT_ARCH_I386) == RET_KILL_PROCESS


@pytest.mark.parametrize("machine", MACHINES)
def test_x32_numbered_calls_fail_with_eperm(machine: str) -> None:
    socket_nr = SYSCALLS[machine][2]
    assert run_filter(machine, socket_nr | 0x40000000, (AF_INET, 1, 0)) == RET_EPERM
