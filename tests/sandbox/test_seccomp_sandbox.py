"""The seccomp filter inside the real sandbox: one test per denied family, and torch still works under it.

Each family's calls are made with arguments that an unfiltered sandbox answers differently (a success,
EFAULT, EINVAL, EBADF, ESRCH, ENOENT, ENOKEY...; noted per call, as measured on Linux 6.18), so these tests
fail when a rule goes. The exceptions are noted: calls the kernel itself refuses with EPERM to a caller
without capabilities; tests/unit/sandbox/test_seccomp.py checks the filter's decision for those.
The numbers below are this test's own, not the filter's table, so a wrong number there shows up here.
"""

from __future__ import annotations

import platform
from collections.abc import Callable

import pytest

from grader.sandbox.client import Student

pytestmark = pytest.mark.bwrap

Sandbox = Callable[..., Student]

PROBE = '''
import ctypes, errno, os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
RETURNS_FD = {"userfaultfd", "open_tree", "open_tree_attr", "memfd_create"}


def _arg(value):
    if value == "pid":
        return ctypes.c_long(os.getpid())
    if isinstance(value, str):
        if value.startswith("buf:"):
            return ctypes.create_string_buffer(int(value[4:]))
        return ctypes.c_char_p(value.encode())
    return None if value is None else ctypes.c_long(value)


def call(name, nr, args):
    """Make one raw system call; "ok" or the errno's name."""
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    err = ctypes.get_errno()
    if result == 0 and name == "clone":
        os._exit(0)  # the child of a clone the filter should have refused
    if result > 0 and name == "clone":
        os.waitpid(result, 0)
    if result >= 0 and name in RETURNS_FD:
        os.close(result)
    return "ok" if result >= 0 else errno.errorcode.get(err, str(err))


def calls(table):
    return {name: call(name, nr, args) for name, (nr, args) in table.items()}
'''

CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
AT_FDCWD = -100

#: family -> call -> ({machine: number}, arguments). A number None: no such call on that machine.
FAMILIES: dict[str, dict[str, tuple[dict[str, int | None], tuple[object, ...]]]] = {
    "keyring": {
        "keyctl": ({"x86_64": 250, "aarch64": 219}, (0, -3, 0)),  # KEYCTL_GET_KEYRING_ID, session: ok
        "add_key": ({"x86_64": 248, "aarch64": 217}, ("user", "grader-probe", "x", 1, -2)),  # ok
        "request_key": ({"x86_64": 249, "aarch64": 218}, ("user", "no-such-key", None, 0)),  # ENOKEY
    },
    "bpf-perf-userfaultfd": {
        "bpf": ({"x86_64": 321, "aarch64": 280}, (0xFFFF, None, 0)),  # EINVAL
        "perf_event_open": ({"x86_64": 298, "aarch64": 241}, (None, 0, -1, -1, 0)),  # EFAULT
        "userfaultfd": ({"x86_64": 323, "aarch64": 282}, (1,)),  # UFFD_USER_MODE_ONLY: ok
    },
    "io_uring": {
        "io_uring_setup": ({"x86_64": 425, "aarch64": 425}, (1, None)),  # EFAULT
        "io_uring_enter": ({"x86_64": 426, "aarch64": 426}, (-1, 0, 0, 0, None, 0)),  # EBADF
        "io_uring_register": ({"x86_64": 427, "aarch64": 427}, (-1, 0, None, 0)),  # EBADF
    },
    "mounts": {
        "open_tree": ({"x86_64": 428, "aarch64": 428}, (AT_FDCWD, "/tmp", 0)),  # ok (no clone: no privilege)
        "mount": ({"x86_64": 165, "aarch64": 40}, (None, None, None, 0, None)),  # EFAULT
        "umount2": ({"x86_64": 166, "aarch64": 39}, ("/tmp", 0xFFFF)),  # EINVAL
        "chroot": ({"x86_64": 161, "aarch64": 51}, ("/no-such-dir",)),  # ENOENT
        "fsopen": ({"x86_64": 430, "aarch64": 430}, ("tmpfs", 0)),  # EPERM from the kernel too
        "pivot_root": ({"x86_64": 155, "aarch64": 41}, ("/", "/")),  # EPERM from the kernel too
    },
    "namespaces": {
        "unshare": ({"x86_64": 272, "aarch64": 97}, (0,)),  # ok (a no-op)
        "setns": ({"x86_64": 308, "aarch64": 268}, (-1, 0)),  # EBADF
        "clone": ({"x86_64": 56, "aarch64": 220}, (CLONE_NEWUSER | SIGCHLD, 0, None, None, 0)),  # ENOSPC
    },
    "kernel-modules-kexec-reboot": {  # EPERM from a kernel with modules and kexec (ENOSYS from one without)
        "init_module": ({"x86_64": 175, "aarch64": 105}, (None, 0, None)),
        "finit_module": ({"x86_64": 313, "aarch64": 273}, (-1, "", 0)),
        "delete_module": ({"x86_64": 176, "aarch64": 106}, ("no_such_module", 0)),
        "kexec_load": ({"x86_64": 246, "aarch64": 104}, (0, 0, None, 0)),
        "reboot": ({"x86_64": 169, "aarch64": 142}, (0, 0, 0, None)),
    },
    "host-wide-state": {
        "adjtimex": ({"x86_64": 159, "aarch64": 171}, ("buf:512",)),  # ok (modes 0: a read)
        "clock_adjtime": ({"x86_64": 305, "aarch64": 266}, (0, "buf:512")),  # ok
        "clock_settime": ({"x86_64": 227, "aarch64": 112}, (0, None)),  # EFAULT
        "quotactl": ({"x86_64": 179, "aarch64": 60}, (0, None, 0, None)),  # ENODEV
        "sysfs": ({"x86_64": 139, "aarch64": None}, (3,)),  # ok
        "settimeofday": ({"x86_64": 164, "aarch64": 170}, (None, None)),  # EPERM from the kernel too
        "swapon": ({"x86_64": 167, "aarch64": 224}, (None, 0)),  # EPERM from the kernel too
        "acct": ({"x86_64": 163, "aarch64": 89}, (None,)),  # EPERM from the kernel too
        "sethostname": ({"x86_64": 170, "aarch64": 161}, ("x", 1)),  # EPERM from the kernel too
    },
    "file-handles-fanotify-raw-io": {
        "name_to_handle_at": ({"x86_64": 303, "aarch64": 264}, (AT_FDCWD, "/tmp", None, None, 0)),  # EFAULT
        "open_by_handle_at": ({"x86_64": 304, "aarch64": 265}, (-1, None, 0)),  # EFAULT
        "modify_ldt": ({"x86_64": 154, "aarch64": None}, (0, "buf:16", 16)),  # ok
        "fanotify_init": ({"x86_64": 300, "aarch64": 262}, (0, 0)),  # EPERM from the kernel too
    },
    "other-processes": {
        "ptrace": ({"x86_64": 101, "aarch64": 117}, (2, 999_999, 0, 0)),  # PTRACE_PEEKDATA: ESRCH
        "process_vm_readv": ({"x86_64": 310, "aarch64": 270}, ("pid", None, 0, None, 0, 0)),  # ok
        "process_vm_writev": ({"x86_64": 311, "aarch64": 271}, ("pid", None, 0, None, 0, 0)),  # ok
        "kcmp": ({"x86_64": 312, "aarch64": 272}, ("pid", "pid", 0, 0, 0)),  # ok
        "pidfd_getfd": ({"x86_64": 438, "aarch64": 438}, (-1, 0, 0)),  # EBADF
        "process_madvise": ({"x86_64": 440, "aarch64": 440}, (-1, None, 0, 0, 0)),  # EBADF
    },
    "numa": {
        "get_mempolicy": ({"x86_64": 239, "aarch64": 236}, (None, None, 0, None, 0)),  # ok
        "set_mempolicy": ({"x86_64": 238, "aarch64": 237}, (0, None, 0)),  # MPOL_DEFAULT: ok
        "mbind": ({"x86_64": 237, "aarch64": 235}, (0, 0, 0, None, 0, 0)),  # ok
        "move_pages": ({"x86_64": 279, "aarch64": 239}, (0, 0, None, None, None, 0)),  # ok
    },
    "sysv-ipc": {  # IPC_PRIVATE, IPC_CREAT | 0600: ok
        "shmget": ({"x86_64": 29, "aarch64": 194}, (0, 4096, 0o1600)),
        "semget": ({"x86_64": 64, "aarch64": 190}, (0, 1, 0o1600)),
        "msgget": ({"x86_64": 68, "aarch64": 186}, (0, 0o1600)),
    },
}


def _table(family: str) -> dict[str, tuple[int, list[object]]]:
    machine = platform.machine()
    return {
        name: (numbers[machine], list(args))
        for name, (numbers, args) in FAMILIES[family].items()
        if numbers.get(machine) is not None
    }


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_call_of_a_denied_family_fails_with_eperm(sandbox: Sandbox, family: str) -> None:
    probe = sandbox({"probe.py": PROBE}).module("probe")
    table = _table(family)
    assert table
    assert probe.calls(table) == dict.fromkeys(table, "EPERM")


def test_memfd_create_fails_with_enosys_and_shared_memory_goes_to_the_capped_dev_shm(sandbox: Sandbox) -> None:
    """A memfd's pages are outside RLIMIT_AS and every tmpfs cap; POSIX shared memory lives in /dev/shm."""
    source = PROBE + (
        "from multiprocessing import shared_memory\n"
        "def posix_shm():\n"
        "    block = shared_memory.SharedMemory(create=True, size=2**20)\n"
        "    try:\n"
        "        block.buf[:3] = b'abc'\n"
        "        return [bytes(block.buf[:3]).decode(), os.path.exists('/dev/shm/' + block.name.lstrip('/'))]\n"
        "    finally:\n"
        "        block.close(); block.unlink()\n"
    )
    probe = sandbox({"probe.py": source}).module("probe")
    nr = {"x86_64": 319, "aarch64": 279}[platform.machine()]
    assert probe.call("memfd_create", nr, ["grader-probe", 0]) == "ENOSYS"  # unfiltered: ok
    assert probe.posix_shm() == ["abc", True]


def test_clone3_fails_with_enosys_and_threads_and_fork_still_work(sandbox: Sandbox) -> None:
    """glibc tries clone3 for threads and posix_spawn and falls back to clone on ENOSYS (not on EPERM)."""
    source = PROBE + (
        "import subprocess, threading\n"
        "def fallbacks():\n"
        "    seen = []\n"
        "    t = threading.Thread(target=lambda: seen.append('thread'))\n"
        "    t.start(); t.join()\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(7)\n"
        "    seen.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
        "    seen.append(subprocess.run(['/bin/echo', 'spawned'], capture_output=True, text=True).stdout.strip())\n"
        "    return seen\n"
    )
    probe = sandbox({"probe.py": source}).module("probe")
    clone3 = {"x86_64": 435, "aarch64": 435}[platform.machine()]
    assert probe.call("clone3", clone3, [None, 0]) == "ENOSYS"  # unfiltered: EINVAL (size 0)
    assert probe.fallbacks() == ["thread", 7, "spawned"]


def test_personality_may_be_read_but_not_changed_to_disable_randomisation(sandbox: Sandbox) -> None:
    probe = sandbox({"probe.py": PROBE}).module("probe")
    nr = {"x86_64": 135, "aarch64": 92}[platform.machine()]
    assert probe.call("personality", nr, [0xFFFFFFFF]) == "ok"
    assert probe.call("personality", nr, [0x0040000]) == "EPERM"  # ADDR_NO_RANDOMIZE; unfiltered: ok


TORCH = """
import os, threading

import numpy as np
import torch


def train_step():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def load_with_workers():
    data = torch.utils.data.TensorDataset(torch.arange(64.0).view(32, 2))
    loader = torch.utils.data.DataLoader(data, batch_size=8, num_workers=2)  # tensors come back through /dev/shm
    return [float(batch[0].sum()) for batch in loader]


def numpy_in_a_thread():
    out = []
    thread = threading.Thread(target=lambda: out.append(float(np.linalg.norm(np.ones(4)))))
    thread.start()
    thread.join()
    return out
"""


def test_torch_trains_and_loads_data_with_workers_under_the_filter(sandbox: Sandbox) -> None:
    student = sandbox({"work.py": TORCH}, call_seconds=60)
    work = student.module("work")
    losses = work.train_step()
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert work.load_with_workers() == [float(sum(range(i * 16, i * 16 + 16))) for i in range(4)]
    assert work.numpy_in_a_thread() == [2.0]
