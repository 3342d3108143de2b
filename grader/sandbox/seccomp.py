"""The seccomp-BPF filter bubblewrap installs (``--seccomp FD``) just before it starts the agent.

It is a deny list over an allow-by-default program, so it denies at least what Docker's default
profile denies to a container without capabilities (moby ``profiles/seccomp/default.json``), on bare
metal as well as in a container:

- ``socket``/``socketpair`` of any family but ``AF_UNIX``: a network namespace alone still lets code
  bind and connect on its own loopback, so "no network" includes 127.0.0.1;
- the families in :data:`DENIED` (keyring, eBPF, perf, userfaultfd, io_uring, the mount APIs and
  namespaces, kernel modules and kexec, host-wide clocks and state, file handles and raw I/O, tracing
  other processes, NUMA placement);
- ``clone`` with a namespace flag, and ``personality`` with anything but the flags Docker allows;
- ``clone3``, ``memfd_create`` (:data:`ENOSYS_CALLS`) and every number above the newest call reviewed
  here (:data:`REVIEWED_UP_TO`).

Beyond Docker, SysV shared memory, semaphores and message queues and ``memfd_create`` are refused:
without cgroups, the memory they hold is outside ``RLIMIT_AS`` and every tmpfs cap (a SysV segment even
outlives its process), the same gap as an uncapped ``/dev/shm``; Python, numpy and torch use POSIX shared
memory (files in the capped ``/dev/shm``) instead.

Denied calls fail with EPERM and the process goes on, as under Docker: libraries probe some of these
calls (NUMA policy, perf, io_uring, the keyring) and fall back when refused, so killing the process
would break honest submissions. ``clone3``, ``memfd_create`` and unknown numbers get ENOSYS instead,
the answer of a kernel without them, because that is what their callers fall back on: glibc from
``clone3`` to ``clone`` (whose flags, unlike ``clone3``'s, the filter can read), asmjit (torch's fbgemm
JIT) and libffi from ``memfd_create`` to a file (on EPERM asmjit gives up), a library to an older call. A foreign ABI (i386's
``int 0x80``) kills the process, and x32 numbers fail, since the numbers below would not match them.

Why these, and what would need them, is said per family in :data:`DENIED`; ``tests/sandbox/
test_seccomp_sandbox.py`` calls one member of each family inside the real sandbox.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGT_K = 0x25
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000

# struct seccomp_data offsets: nr, arch, instruction pointer, then six 64-bit arguments (little-endian
# on both machines, so an argument's low word comes first; the calls checked take 32-bit values).
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16

_AF_UNIX = 1
_X32_BIT = 0x40000000
#: CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: Docker's mask for clone.
CLONE_NAMESPACE_FLAGS = 0x7E020000
#: personality() values Docker allows: PER_LINUX, UNAME26, PER_LINUX32, both, and the query 0xffffffff.
PERSONALITIES_ALLOWED = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
#: The newest system call number reviewed for this list (file_setattr, Linux 6.17, the same on both
#: machines): anything above fails with ENOSYS until someone reviews it, as Docker denies unknown calls.
REVIEWED_UP_TO = 469

#: What is denied with EPERM, by family: why, in the key. Names missing on a machine are skipped.
DENIED: dict[str, tuple[str, ...]] = {
    "keyring (not namespaced: keys of other users and the host)": ("add_key", "request_key", "keyctl"),
    "eBPF, perf events, userfaultfd: large kernel attack surfaces and exploit primitives": (
        "bpf",
        "perf_event_open",
        "userfaultfd",
    ),
    "io_uring (it can also open sockets without socket(2))": ("io_uring_setup", "io_uring_enter", "io_uring_register"),
    "mounts, the new mount API (CVE-2022-0185 came through fsconfig) and namespaces": (
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "open_tree_attr",
        "mount_setattr",
        "unshare",
        "setns",
    ),
    "kernel modules, kexec, reboot: the host's kernel": (
        "init_module",
        "finit_module",
        "delete_module",
        "create_module",
        "query_module",
        "get_kernel_syms",
        "kexec_load",
        "kexec_file_load",
        "reboot",
    ),
    "host-wide state no namespace isolates: clocks, swap, accounting, the kernel log, quotas, names": (
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "swapon",
        "swapoff",
        "acct",
        "syslog",
        "vhangup",
        "quotactl",
        "quotactl_fd",
        "nfsservctl",
        "_sysctl",
        "uselib",
        "ustat",
        "sysfs",
        "lookup_dcookie",
        "sethostname",
        "setdomainname",
    ),
    "file handles (the 'shocker' escape), fanotify, raw I/O ports, LDT changes": (
        "open_by_handle_at",
        "name_to_handle_at",
        "fanotify_init",
        "iopl",
        "ioperm",
        "modify_ldt",
    ),
    "reading or steering other processes": (
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "kcmp",
        "pidfd_getfd",
        "process_madvise",
    ),
    "NUMA memory placement (libraries probe it and fall back)": (
        "mbind",
        "set_mempolicy",
        "get_mempolicy",
        "migrate_pages",
        "move_pages",
        "set_mempolicy_home_node",
    ),
    "SysV IPC: memory outside RLIMIT_AS and the tmpfs caps, kept after its process exits (beyond Docker)": (
        "shmget",
        "semget",
        "msgget",
    ),
}
#: What fails with ENOSYS, as on a kernel without it, so that callers take their fallback (see above).
ENOSYS_CALLS = ("clone3", "memfd_create")

# System call numbers (arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h).
# tests/unit/sandbox/test_seccomp.py checks them against libseccomp's own tables.
_X86_64 = {
    "socket": 41,
    "socketpair": 53,
    "clone": 56,
    "clone3": 435,
    "personality": 135,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "move_mount": 429,
    "open_tree": 428,
    "open_tree_attr": 467,
    "mount_setattr": 442,
    "unshare": 272,
    "setns": 308,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "create_module": 174,
    "query_module": 178,
    "get_kernel_syms": 177,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "reboot": 169,
    "settimeofday": 164,
    "clock_settime": 227,
    "clock_adjtime": 305,
    "adjtimex": 159,
    "swapon": 167,
    "swapoff": 168,
    "acct": 163,
    "syslog": 103,
    "vhangup": 153,
    "quotactl": 179,
    "quotactl_fd": 443,
    "nfsservctl": 180,
    "_sysctl": 156,
    "uselib": 134,
    "ustat": 136,
    "sysfs": 139,
    "lookup_dcookie": 212,
    "sethostname": 170,
    "setdomainname": 171,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "fanotify_init": 300,
    "iopl": 172,
    "ioperm": 173,
    "modify_ldt": 154,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mbind": 237,
    "set_mempolicy": 238,
    "get_mempolicy": 239,
    "migrate_pages": 256,
    "move_pages": 279,
    "set_mempolicy_home_node": 450,
    "shmget": 29,
    "semget": 64,
    "msgget": 68,
    "memfd_create": 319,
}
_AARCH64 = {
    "socket": 198,
    "socketpair": 199,
    "clone": 220,
    "clone3": 435,
    "personality": 92,
    "add_key": 217,
    "request_key": 218,
    "keyctl": 219,
    "bpf": 280,
    "perf_event_open": 241,
    "userfaultfd": 282,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "mount": 40,
    "umount2": 39,
    "pivot_root": 41,
    "chroot": 51,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "move_mount": 429,
    "open_tree": 428,
    "open_tree_attr": 467,
    "mount_setattr": 442,
    "unshare": 97,
    "setns": 268,
    "init_module": 105,
    "finit_module": 273,
    "delete_module": 106,
    "kexec_load": 104,
    "kexec_file_load": 294,
    "reboot": 142,
    "settimeofday": 170,
    "clock_settime": 112,
    "clock_adjtime": 266,
    "adjtimex": 171,
    "swapon": 224,
    "swapoff": 225,
    "acct": 89,
    "syslog": 116,
    "vhangup": 58,
    "quotactl": 60,
    "quotactl_fd": 443,
    "nfsservctl": 42,
    "lookup_dcookie": 18,
    "sethostname": 161,
    "setdomainname": 162,
    "open_by_handle_at": 265,
    "name_to_handle_at": 264,
    "fanotify_init": 262,
    "ptrace": 117,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kcmp": 272,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mbind": 235,
    "set_mempolicy": 237,
    "get_mempolicy": 236,
    "migrate_pages": 238,
    "move_pages": 239,
    "set_mempolicy_home_node": 450,
    "shmget": 194,
    "semget": 190,
    "msgget": 186,
    "memfd_create": 279,
}

#: (audit arch, name -> number) per machine.
ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, _X86_64),
    "aarch64": (0xC00000B7, _AARCH64),
}


def denied_numbers(machine: str) -> dict[str, int]:
    """The calls of :data:`DENIED` that exist on ``machine``, name -> number."""
    table = ARCHES[machine][1]
    return {name: table[name] for names in DENIED.values() for name in names if name in table}


class _Program:
    """A classic-BPF program with symbolic jump targets, resolved (and range-checked) by :meth:`assemble`."""

    def __init__(self) -> None:
        self.code: list[tuple[int, str | int, str | int, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def load(self, offset: int) -> None:
        self.code.append((_LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, k: int, true: str, false: str | int = 0) -> None:
        """Go to ``true`` when the test holds, else to ``false`` (0: the next instruction)."""
        self.code.append((op, true, false, k))

    def ret(self, k: int) -> None:
        self.code.append((_RET_K, 0, 0, k))

    def assemble(self) -> bytes:
        out = []
        for pc, (op, jt, jf, k) in enumerate(self.code):
            offsets = [self.labels[t] - pc - 1 if isinstance(t, str) else t for t in (jt, jf)]
            if not all(0 <= off <= 255 for off in offsets):
                raise ValueError(f"jump out of range at instruction {pc}: {offsets}")  # BPF jumps are 8-bit, forward
            out.append(struct.pack("=HBBI", op, offsets[0], offsets[1], k))
        return b"".join(out)


def build_filter(machine: str | None = None) -> bytes:
    """Compile the filter for this machine (or ``machine``) into bwrap's raw sock_filter array."""
    arch, table = ARCHES[machine or platform.machine()]
    p = _Program()
    p.load(_OFF_ARCH)
    p.jump(_JEQ_K, arch, "native")  # the audit arch must stay instruction 1 (tests read it there)
    p.ret(_RET_KILL_PROCESS)  # a foreign ABI is never expected
    p.label("native")
    p.load(_OFF_NR)
    p.jump(_JGE_K, _X32_BIT, "eperm")  # x32 calls would dodge the numbers below
    p.jump(_JGT_K, REVIEWED_UP_TO, "enosys")
    p.jump(_JEQ_K, table["socket"], "family")
    p.jump(_JEQ_K, table["socketpair"], "family")
    p.jump(_JEQ_K, table["clone"], "clone")
    p.jump(_JEQ_K, table["personality"], "personality")
    for name in ENOSYS_CALLS:  # clone3's flags sit in memory the filter cannot read
        p.jump(_JEQ_K, table[name], "enosys")
    for nr in sorted(set(denied_numbers(machine or platform.machine()).values())):
        p.jump(_JEQ_K, nr, "eperm")
    p.jump(_JEQ_K, 0, "allow", "allow")  # an unconditional jump, to keep the returns together below
    p.label("family")
    p.load(_OFF_ARG0)
    p.jump(_JEQ_K, _AF_UNIX, "allow", "eperm")
    p.label("clone")
    p.load(_OFF_ARG0)
    p.jump(_JSET_K, CLONE_NAMESPACE_FLAGS, "eperm", "allow")
    p.label("personality")
    p.load(_OFF_ARG0)
    for value in PERSONALITIES_ALLOWED:
        p.jump(_JEQ_K, value, "allow")
    p.label("eperm")
    p.ret(_RET_ERRNO | errno.EPERM)
    p.label("allow")
    p.ret(_RET_ALLOW)
    p.label("enosys")
    p.ret(_RET_ERRNO | errno.ENOSYS)
    return p.assemble()


def filter_fd() -> int:
    """An inheritable, rewound file descriptor holding the filter, for ``bwrap --seccomp``."""
    fd = os.memfd_create("grader-seccomp", 0)
    os.write(fd, build_filter())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
