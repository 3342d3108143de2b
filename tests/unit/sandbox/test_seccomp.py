"""Tests for grader.sandbox.seccomp: the BPF program's structure, and what it decides, run in a tiny interpreter.

What the filter does inside the real sandbox: tests/sandbox/test_seccomp_sandbox.py.
"""

from __future__ import annotations

import errno
import json
import os
import struct

import pyseccomp
import pytest

from grader.config import PROJECT_ROOT
from grader.sandbox import seccomp
from grader.sandbox.seccomp import (
    ARCHES,
    CLONE_NAMESPACE_FLAGS,
    DENIED,
    ENOSYS_CALLS,
    PERSONALITIES_ALLOWED,
    REVIEWED_UP_TO,
    build_filter,
    denied_numbers,
)

INSN = struct.Struct("=HBBI")
MACHINES = ("x86_64", "aarch64")

BPF_CLASS_MASK = 0x07
BPF_LD, BPF_JMP, BPF_RET = 0x00, 0x05, 0x06

RET_ALLOW = 0x7FFF0000
RET_EPERM = 0x00050000 | errno.EPERM
RET_ENOSYS = 0x00050000 | errno.ENOSYS
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
        elif code == 0x25:  # BPF_JMP | BPF_JGT | BPF_K
            pc += 1 + (jt if acc > k else jf)
        elif code == 0x35:  # BPF_JMP | BPF_JGE | BPF_K
            pc += 1 + (jt if acc >= k else jf)
        elif code == 0x45:  # BPF_JMP | BPF_JSET | BPF_K
            pc += 1 + (jt if acc & k else jf)
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
def test_every_return_gives_allow_eperm_enosys_or_kill(machine: str) -> None:
    returns = {k for code, _jt, _jf, k in instructions(machine) if code & BPF_CLASS_MASK == BPF_RET}
    assert returns == {RET_ALLOW, RET_EPERM, RET_ENOSYS, RET_KILL_PROCESS}


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


# ----------------------------------------------------------------------------- the deny list

LIBSECCOMP_ARCH = {"x86_64": pyseccomp.Arch.X86_64, "aarch64": pyseccomp.Arch.AARCH64}
#: Calls newer than the libseccomp this is tested with may be unknown to it; their numbers are then unchecked.
NEWER_THAN_SOME_LIBSECCOMP = {"open_tree_attr"}
#: What moby's default profile (profiles/seccomp/default.json) refuses a container without capabilities:
#: calls it lists only for a capability, calls it does not list, and io_uring (denied since Docker 25).
#: ptrace and process_vm_* (allowed there on kernels >= 4.8) are denied here too.
DOCKER_DEFAULT_DENIED = {
    "bpf",
    "fanotify_init",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "perf_event_open",
    "quotactl",
    "quotactl_fd",
    "setdomainname",
    "sethostname",
    "setns",
    "syslog",
    "umount2",
    "unshare",
    "reboot",
    "chroot",
    "delete_module",
    "init_module",
    "finit_module",
    "acct",
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "vhangup",
    "get_mempolicy",
    "mbind",
    "set_mempolicy",
    "set_mempolicy_home_node",
    "open_by_handle_at",
    "add_key",
    "request_key",
    "keyctl",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "swapon",
    "swapoff",
    "pivot_root",
    "migrate_pages",
    "move_pages",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "nfsservctl",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
}
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x20000, 0x10000000, 0x40000000
FORK_FLAGS = 17  # SIGCHLD, what glibc's fork passes
THREAD_FLAGS = 0x3D0F00  # CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID (pthread_create)


def libseccomp_number(machine: str, name: str) -> int | None:
    """The number libseccomp gives ``name`` on ``machine``: an oracle independent of our table (None: no such call)."""
    nr = int(pyseccomp.resolve_syscall(LIBSECCOMP_ARCH[machine], name))
    return nr if nr >= 0 else None


@pytest.mark.parametrize("machine", MACHINES)
def test_our_numbers_are_libseccomps(machine: str) -> None:
    table = ARCHES[machine][1]
    checked = 0
    for name, nr in table.items():
        expected = libseccomp_number(machine, name)
        if expected is None:
            assert name in NEWER_THAN_SOME_LIBSECCOMP, f"libseccomp knows no {name} on {machine}"
            continue
        assert nr == expected, name
        checked += 1
    assert checked >= len(table) - len(NEWER_THAN_SOME_LIBSECCOMP)


@pytest.mark.parametrize("machine", MACHINES)
def test_a_denied_name_missing_from_a_machine_does_not_exist_there(machine: str) -> None:
    missing = {name for names in DENIED.values() for name in names} - set(ARCHES[machine][1])
    assert [name for name in sorted(missing) if libseccomp_number(machine, name) is not None] == []


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("family", list(DENIED))
def test_every_call_of_a_denied_family_fails_with_eperm(machine: str, family: str) -> None:
    table = ARCHES[machine][1]
    present = [name for name in DENIED[family] if name in table]
    assert present, f"no call of {family} on {machine}"
    assert {name: run_filter(machine, table[name]) for name in present} == dict.fromkeys(present, RET_EPERM)


@pytest.mark.parametrize("machine", MACHINES)
def test_everything_dockers_default_profile_denies_is_denied(machine: str) -> None:
    """Numbers from libseccomp, not from our table, so a wrong number in the table fails here."""
    numbers = {name: nr for name in DOCKER_DEFAULT_DENIED if (nr := libseccomp_number(machine, name)) is not None}
    assert len(numbers) >= 50
    assert {name for name, nr in numbers.items() if run_filter(machine, nr) != RET_EPERM} == set()


@pytest.mark.parametrize("machine", MACHINES)
def test_the_workers_docker_profile_denies_nothing_the_sandbox_allows(machine: str) -> None:
    profile = json.loads((PROJECT_ROOT / "docker" / "seccomp-bwrap.json").read_text(encoding="utf-8"))
    names = {name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ERRNO" for name in rule["names"]}
    numbers = {name: nr for name in names if (nr := libseccomp_number(machine, name)) is not None}
    assert {name for name, nr in numbers.items() if run_filter(machine, nr) != RET_EPERM} == set()


@pytest.mark.parametrize("machine", MACHINES)
def test_denied_numbers_cover_every_family_name_present(machine: str) -> None:
    table = ARCHES[machine][1]
    expected = {name for names in DENIED.values() for name in names if name in table}
    assert set(denied_numbers(machine)) == expected


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize(
    "name",
    [
        "read",
        "write",
        "openat",
        "mmap",
        "munmap",
        "mprotect",
        "futex",
        "execve",
        "wait4",
        "pipe2",
        "ioctl",
        "getrandom",
        "rseq",
        "sched_setaffinity",
        "prlimit64",
        "ftruncate",
        "mq_open",
        "seccomp",
    ],
)
def test_the_calls_python_and_torch_live_on_are_allowed(machine: str, name: str) -> None:
    nr = libseccomp_number(machine, name)
    assert nr is not None
    assert run_filter(machine, nr, (0, 0, 0)) == RET_ALLOW


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("flags", [FORK_FLAGS, THREAD_FLAGS, 0])
def test_clone_for_fork_and_threads_is_allowed(machine: str, flags: int) -> None:
    assert run_filter(machine, ARCHES[machine][1]["clone"], (flags,)) == RET_ALLOW


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("flag", [1 << bit for bit in range(32) if CLONE_NAMESPACE_FLAGS >> bit & 1])
def test_clone_with_any_namespace_flag_fails_with_eperm(machine: str, flag: int) -> None:
    assert run_filter(machine, ARCHES[machine][1]["clone"], (flag | FORK_FLAGS,)) == RET_EPERM


def test_the_namespace_mask_is_dockers() -> None:
    assert CLONE_NAMESPACE_FLAGS == 2114060288  # the SCMP_CMP_MASKED_EQ value in moby's default profile
    assert CLONE_NAMESPACE_FLAGS & CLONE_NEWNS and CLONE_NAMESPACE_FLAGS & CLONE_NEWUSER
    assert CLONE_NAMESPACE_FLAGS & CLONE_NEWNET


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("name", ENOSYS_CALLS)
def test_clone3_and_memfd_create_fail_with_enosys_so_callers_fall_back(machine: str, name: str) -> None:
    nr = libseccomp_number(machine, name)
    assert nr is not None
    assert run_filter(machine, nr, (0, 88)) == RET_ENOSYS


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("persona", PERSONALITIES_ALLOWED)
def test_personality_dockers_values_are_allowed(machine: str, persona: int) -> None:
    assert run_filter(machine, ARCHES[machine][1]["personality"], (persona,)) == RET_ALLOW


@pytest.mark.parametrize("machine", MACHINES)
# ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, STICKY_TIMEOUTS, PER_LINUX32 with ADDR_NO_RANDOMIZE
@pytest.mark.parametrize("persona", [0x0040000, 0x0400000, 0x4000000, 0x20000 | 0x0040000])
def test_personality_other_values_fail_with_eperm(machine: str, persona: int) -> None:
    assert run_filter(machine, ARCHES[machine][1]["personality"], (persona,)) == RET_EPERM


@pytest.mark.parametrize("machine", MACHINES)
def test_numbers_above_the_reviewed_ones_fail_with_enosys(machine: str) -> None:
    assert run_filter(machine, REVIEWED_UP_TO) == RET_ALLOW  # file_setattr
    assert run_filter(machine, REVIEWED_UP_TO + 1) == RET_ENOSYS
    assert run_filter(machine, 0x3FFFFFFF) == RET_ENOSYS


def test_a_jump_too_far_for_8_bits_is_refused() -> None:
    program = seccomp._Program()
    program.jump(0x15, 0, "far")
    for _ in range(300):
        program.ret(0)
    program.label("far")
    program.ret(0)
    with pytest.raises(ValueError, match="out of range"):
        program.assemble()
