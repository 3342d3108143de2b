"""One escape property per test (N4): each submission is built here and tries exactly one thing."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.errors import SandboxDied, SandboxTimeout, StudentCodeError
from grader.sandbox.client import Student

pytestmark = pytest.mark.bwrap

Sandbox = Callable[..., Student]

PROBE = """
import os, socket

def read(path):
    try:
        with open(path, "rb") as f:
            return "READ:" + f.read(200).decode("utf-8", "replace")
    except OSError as exc:
        return f"ERR:{type(exc).__name__}"

def listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        return f"ERR:{type(exc).__name__}"

def write(path):
    try:
        with open(path, "w") as f:
            f.write("{\\"score\\": 100}")
        return "WROTE"
    except OSError as exc:
        return f"ERR:{type(exc).__name__}"

def connect(family, kind, address):
    try:
        s = socket.socket(family, kind)
        s.settimeout(2)
        s.connect(tuple(address) if isinstance(address, list) else address)
        s.send(b"hello")
        return "CONNECTED"
    except OSError as exc:
        return f"ERR:{type(exc).__name__}:{exc.errno}"

def environ():
    return dict(os.environ)

def ids():
    return [os.getuid(), os.geteuid(), os.getgid()]

def pids():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
"""


def test_hidden_suites_and_data_are_not_visible(sandbox: Sandbox) -> None:
    probe = sandbox({"probe.py": PROBE}).module("probe")
    hidden = PROJECT_ROOT / "test_suites" / "cs224n_a5" / "data" / "wiki.txt"
    assert hidden.exists()
    assert probe.read(str(hidden)).startswith("ERR:FileNotFoundError")
    assert probe.listdir(str(PROJECT_ROOT / "test_suites")).startswith("ERR:")
    assert probe.read(str(PROJECT_ROOT / "tests" / "files" / "suites" / "toy" / "data" / "secret.txt")).startswith(
        "ERR:"
    )
    assert probe.read("/proc/1/root" + str(hidden)).startswith("ERR:")
    # The project folder exists inside only as the parent of the read-only Python environment.
    assert probe.listdir(str(PROJECT_ROOT)) in ([".venv"], "ERR:FileNotFoundError")


def test_only_the_agent_files_of_the_grader_package_are_visible(sandbox: Sandbox) -> None:
    probe = sandbox({"probe.py": PROBE}).module("probe")
    assert probe.listdir("/opt/grader/grader") == ["__init__.py", "sandbox"]
    assert probe.listdir("/opt/grader/grader/sandbox") == ["__init__.py", "agent", "protocol.py"]


def test_grader_environment_is_not_inherited(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "do-not-leak-7731")
    probe = sandbox({"probe.py": PROBE}).module("probe")
    env = probe.environ()
    assert "GRADER_SECRET_TOKEN" not in env
    assert "do-not-leak-7731" not in probe.read("/proc/self/environ")
    assert "do-not-leak-7731" not in probe.read("/proc/1/environ")
    assert set(env) <= {
        "PATH",
        "HOME",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "TOKENIZERS_PARALLELISM",
        "HF_HUB_OFFLINE",
        "MPLBACKEND",
        "PWD",
    }


def test_runs_as_non_root_and_sees_only_its_own_processes(sandbox: Sandbox) -> None:
    probe = sandbox({"probe.py": PROBE}).module("probe")
    assert probe.ids() == [1000, 1000, 1000]
    assert max(probe.pids()) < 10  # a fresh PID namespace: bwrap's init, the agent, nothing of the host


@pytest.fixture
def tcp_listener() -> tuple[str, int]:
    """A real server on the host's loopback, so a refusal cannot be 'nothing was listening'."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    return server.getsockname()


def test_tcp_to_host_loopback_is_refused(sandbox: Sandbox, tcp_listener: tuple[str, int]) -> None:
    probe = sandbox({"probe.py": PROBE}).module("probe")
    assert probe.connect(int(socket.AF_INET), int(socket.SOCK_STREAM), list(tcp_listener)) == "ERR:PermissionError:1"
    assert probe.connect(int(socket.AF_INET6), int(socket.SOCK_STREAM), ["::1", 80]) == "ERR:PermissionError:1"


def test_udp_is_refused(sandbox: Sandbox) -> None:
    probe = sandbox({"probe.py": PROBE}).module("probe")
    assert probe.connect(int(socket.AF_INET), int(socket.SOCK_DGRAM), ["127.0.0.1", 53]) == "ERR:PermissionError:1"


def test_host_unix_sockets_are_out_of_reach(sandbox: Sandbox, tmp_path: Path) -> None:
    path = Path("/tmp") / f"grader-test-{os.getpid()}.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    try:
        probe = sandbox({"probe.py": PROBE}).module("probe")
        assert probe.connect(int(socket.AF_UNIX), int(socket.SOCK_STREAM), str(path)).startswith(
            "ERR:FileNotFoundError"
        )
    finally:
        server.close()
        path.unlink()


def test_system_is_read_only_and_submission_copy_is_private(sandbox: Sandbox) -> None:
    student = sandbox({"probe.py": PROBE})
    probe = student.module("probe")
    assert probe.write("/usr/results.json").startswith("ERR:")
    assert probe.write("/opt/grader/grader/sandbox/protocol.py").startswith("ERR:")
    assert probe.write("/mnt/submission/probe.py").startswith("ERR:")
    assert probe.write("results.json") == "WROTE"  # its own scratch copy, thrown away afterwards
    root = student._session.spec.submission_dir
    assert not (root / "results.json").exists()


def test_huge_output_is_truncated_with_a_note(sandbox: Sandbox) -> None:
    student = sandbox(
        {
            "loud.py": "import sys\ndef shout():\n    for _ in range(20000):\n        sys.stdout.write('x' * 1000)\n    return 1\n"
        },
        output_bytes=4096,
    )
    assert student.module("loud").shout() == 1
    session = student._session
    session.close()
    text = session.ended[-1]["output"]
    assert "[output truncated: 20000000 bytes written, first 4096 kept]" in text
    assert len(text) < 4096 + 200


def test_sleep_forever_is_killed_promptly(sandbox: Sandbox) -> None:
    student = sandbox({"slow.py": "import time\ndef wait():\n    time.sleep(3600)\n"}, call_seconds=2)
    slow = student.module("slow")
    started = time.monotonic()
    with pytest.raises(SandboxTimeout):
        slow.wait()
    assert time.monotonic() - started < 5
    assert not student._session.process.alive()


def test_exit_is_reported_not_fatal(sandbox: Sandbox) -> None:
    student = sandbox({"bye.py": "import os\ndef leave():\n    os._exit(0)\n", "ok.py": "def one():\n    return 1\n"})
    with pytest.raises(SandboxDied, match="exited with status 0"):
        student.module("bye").leave()
    assert student.module("ok").one() == 1  # the next call gets a fresh sandbox


def test_sys_exit_is_an_ordinary_student_error(sandbox: Sandbox) -> None:
    student = sandbox({"bye.py": "import sys\nsys.exit(0)\n"})
    with pytest.raises(StudentCodeError, match=r"sys.exit\(0\) was called"):
        student.module("bye")


def test_fork_bomb_is_contained(sandbox: Sandbox) -> None:
    bomb = "import os\ndef boom():\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
    student = sandbox({"bomb.py": bomb}, call_seconds=3, pids=32)
    assert student._session.ensure_started().notes == [] or os.geteuid() != 0  # a private uid when root
    with pytest.raises(SandboxTimeout):
        student.module("bomb").boom()
    assert student.module("bomb") is not None  # the machine still has room for a fresh sandbox


def test_memory_bomb_fails_inside_the_sandbox(sandbox: Sandbox) -> None:
    student = sandbox({"big.py": "def grab():\n    return len(bytearray(10 * 1024**3))\n"}, memory_bytes=2 * 1024**3)
    with pytest.raises(StudentCodeError, match="MemoryError"):
        student.module("big").grab()


def test_big_file_is_stopped_by_the_file_size_limit(sandbox: Sandbox) -> None:
    fill = "def fill():\n    with open('/tmp/f', 'wb') as f:\n        f.write(b'x' * (8 * 1024**2))\n"
    student = sandbox({"fill.py": fill}, file_bytes=1024**2)
    with pytest.raises((StudentCodeError, SandboxDied)):
        student.module("fill").fill()


SHM_FILL = """
import errno, os

def fill(path, total):
    chunk = b"x" * 2**20
    written = 0
    try:
        with open(path, "wb") as f:
            while written < total:
                written += f.write(chunk)
                f.flush()
        return ["WROTE", written]
    except OSError as exc:
        return [errno.errorcode[exc.errno], written]

def size(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize
"""


def test_dev_shm_is_capped_like_tmp_and_the_host_is_untouched(sandbox: Sandbox) -> None:
    cap = 8 * 2**20
    name = f"grader-shm-fill-{os.getpid()}"
    shm = sandbox({"fill.py": SHM_FILL}, tmpfs_bytes=cap, file_bytes=64 * 2**20).module("fill")
    assert shm.size("/dev/shm") == cap
    status, written = shm.fill(f"/dev/shm/{name}", 32 * 2**20)
    assert status == "ENOSPC" and written <= cap
    assert shm.fill(f"/tmp/{name}", 32 * 2**20)[0] == "ENOSPC"  # the same cap as /tmp
    assert not Path("/dev/shm", name).exists() and not Path("/tmp", name).exists()


def test_dev_is_read_only_outside_dev_shm(sandbox: Sandbox) -> None:
    shm = sandbox({"fill.py": SHM_FILL}).module("fill")
    assert shm.fill("/dev/grader-fill", 2**20) == ["EROFS", 0]  # bwrap's /dev is an uncapped tmpfs otherwise
    assert shm.fill("/dev/shm/ok", 2**20) == ["WROTE", 2**20]


def test_daemon_does_not_outlive_the_sandbox(sandbox: Sandbox) -> None:
    marker = f"{os.getpid()}.4242"
    daemon = (
        "import os\n"
        "def spawn():\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        f"            os.execv('/usr/bin/sleep', ['sleep', '{marker}'])\n"
        "        os._exit(0)\n"
        "    return 1\n"
    )
    student = sandbox({"d.py": daemon})
    assert student.module("d").spawn() == 1
    time.sleep(0.3)
    assert _processes_with(marker), "the daemon should be running while the sandbox lives"
    student._session.close()
    time.sleep(0.5)
    assert _processes_with(marker) == []


def _processes_with(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(proc.name)
        except OSError:
            continue
    return found


def test_cannot_signal_the_grader(sandbox: Sandbox) -> None:
    kill = f"import os, signal\ndef hit():\n    try:\n        os.kill({os.getpid()}, signal.SIGTERM)\n        return 'SENT'\n    except OSError as exc:\n        return type(exc).__name__\n"
    student = sandbox({"k.py": kill})
    assert student.module("k").hit() == "ProcessLookupError"  # the grader's pid does not exist in there
