"""Start the agent in a sandbox: bubblewrap in production, a plain subprocess only for development.

Both launchers return a :class:`SandboxProcess`, which owns the process, its RPC pipes, the capture of
its output and the record of why it ended.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypedDict, Unpack

from grader.errors import ConfigurationError
from grader.models.limits import SandboxLimits
from grader.sandbox.seccomp import filter_fd

#: What the sandbox needs of the grader package: the agent and the protocol, nothing else.
AGENT_FILES = (
    "grader/__init__.py",
    "grader/sandbox/__init__.py",
    "grader/sandbox/protocol.py",
    "grader/sandbox/agent/__init__.py",
    "grader/sandbox/agent/__main__.py",
    "grader/sandbox/agent/autogroup.py",
    "grader/sandbox/agent/server.py",
    "grader/sandbox/agent/scripts.py",
)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
INSIDE_AGENT_ROOT = "/opt/grader"
INSIDE_SOURCE = "/mnt/submission"
INSIDE_HOME = "/home/student"
INSIDE_WORKDIR = "/home/student/submission"
INSIDE_UID = 1000
#: Where a suite's students' environment (grader/engine/environments.py) is mounted, read-only.
INSIDE_ENVIRONMENT = "/opt/environment"


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandbox runs: a submission folder, its import path and the limits to apply."""

    submission_dir: Path
    python_path: tuple[str, ...] = ()
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    gpu: bool = False
    model_cache: Path | None = None  # a Hugging Face cache, mounted read-only at the same path
    cuda_visible_devices: str | None = None  # the worker's GPUs, for a GPU sandbox
    preload: tuple[str, ...] = ()  # modules the agent imports before its greeting (a suite's [resources] preload)
    deferred: bool = False  # a warm-pool sandbox: the agent waits for a "start" request before copying the submission
    environment: Path | None = None  # the suite's built students' environment (a site folder), appended to sys.path


class OutputCapture:
    """Drains a pipe on a thread, keeping the first ``cap`` bytes and counting the rest."""

    def __init__(self, fd: int, cap: int) -> None:
        self.cap = cap
        self.kept = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._thread.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                self.total += len(chunk)
                room = self.cap - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]

    def text(self) -> str:
        """The kept output, with a note when some was dropped."""
        self._thread.join(timeout=1)
        body = self.kept.decode("utf-8", errors="replace")
        if self.total > len(self.kept):
            body += f"\n[output truncated: {self.total} bytes written, first {len(self.kept)} kept]\n"
        return body


class SandboxProcess:
    """A running agent: RPC descriptors, captured output, and the reason it ended once it has."""

    def __init__(self, popen: subprocess.Popen[bytes], limits: SandboxLimits, notes: list[str]) -> None:
        assert popen.stdin is not None and popen.stdout is not None and popen.stderr is not None
        self.popen = popen
        self.limits = limits
        self.notes = notes
        self.started = time.monotonic()
        self.deadline = self.started + limits.wall_seconds
        self.rpc_out = popen.stdin.fileno()
        self.rpc_in = popen.stdout.fileno()
        self.output = OutputCapture(os.dup(popen.stderr.fileno()), limits.output_bytes)
        popen.stderr.close()
        self.kill_reason: str | None = None
        self.on_close: list[Callable[[], None]] = []  # e.g. the warm pool removing this sandbox's host folder

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, reason: str) -> None:
        """Kill the whole sandbox (its process group); the first reason given is kept."""
        if self.kill_reason is None and self.alive():
            self.kill_reason = reason
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()

    def close(self) -> None:
        if self.alive():
            self.kill("finished")
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        while self.on_close:
            self.on_close.pop()()

    def exit_reason(self) -> str:
        """Why the sandbox ended, in words a student can act on."""
        if self.kill_reason:
            return self.kill_reason
        code = self.popen.poll()
        if code is None:
            return "still running"
        return describe_exit(code, self.limits)


def describe_exit(code: int, limits: SandboxLimits) -> str:
    """Translate an exit status (bwrap reports a child's signal as 128+N) into a sentence."""
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    if signum == signal.SIGXCPU or signum == signal.SIGKILL:
        return (
            f"killed by signal {signal.Signals(signum).name}: most likely the CPU time limit "
            f"({limits.cpu_seconds} s) or the memory limit ({limits.memory_bytes // 2**20} MiB)"
        )
    if signum == signal.SIGXFSZ:
        return f"killed for writing a file larger than the limit ({limits.file_bytes // 2**20} MiB)"
    if signum:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return f"killed by {name}"
    return f"the process exited with status {code} (did the code call sys.exit() or os._exit()?)"


class Launcher(Protocol):
    """Starts one sandboxed agent."""

    secure: bool

    def start(self, spec: SandboxSpec, *, replacing: bool = False) -> SandboxProcess:
        """Start a sandbox for ``spec``; ``replacing``: it replaces one thrown away in mid-grading."""
        ...


def _agent_command(
    python: str, agent_root: str, source: str, workdir: str, spec: SandboxSpec, environment: str | None = None
) -> list[str]:
    cmd = [python, "-I", "-B", f"{agent_root}/grader/sandbox/agent/__main__.py"]
    cmd += ["--source", source, "--workdir", workdir]
    if environment is not None:
        cmd += ["--site", environment]  # after the grader's own packages: it can add modules, never shadow torch
    for entry in spec.python_path:
        cmd += ["--python-path", entry]
    if spec.deferred:
        # Only a warm sandbox prepays the suite's imports: it does so before a submission waits on it. A cold
        # one would pay them on the submission's time, even those its checks never need.
        for module in spec.preload:
            cmd += ["--preload", module]
        cmd.append("--deferred")
    return cmd


def _sandbox_env(limits: SandboxLimits, home: str) -> dict[str, str]:
    threads = str(limits.cpu_threads)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "MPLBACKEND": "Agg",
    }


def _rlimit_prefix(limits: SandboxLimits, extra_pids: int = 0) -> list[str]:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise ConfigurationError("prlimit (util-linux) is required to apply sandbox limits")
    return [
        prlimit,
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        f"--nproc={limits.pids + extra_pids}",
        "--core=0",
        "--",
    ]


class _RunAs(TypedDict, total=False):
    """The identity a sandbox runs as, when the grader (as root) gives it a uid of its own."""

    user: int
    group: int
    extra_groups: list[int]


def _popen(
    cmd: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = (), **kw: Unpack[_RunAs]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - the command is built from our own fixed parts
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        pass_fds=pass_fds,
        # A process group of its own (killed as one), in the grader's session: with autogroup scheduling a
        # new session would start at niceness 0 and compete with the API as an equal while bubblewrap
        # sets up (the agent's own new session sets its niceness first thing: agent/__main__.py).
        process_group=0,
        close_fds=True,
        **kw,
    )


def _world_traversable(path: Path) -> bool:
    """True when any uid may reach ``path`` (every ancestor has o+x)."""
    for part in [path, *path.parents]:
        try:
            if not os.stat(part).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


class BwrapLauncher:
    """The production launcher: bubblewrap namespaces, seccomp, rlimits and (as root) a private uid."""

    secure = True

    def __init__(self, bwrap: str = "bwrap", host_uid_base: int | None = 200_000, host_uid_span: int = 50_000) -> None:
        path = shutil.which(bwrap)
        if path is None:
            raise ConfigurationError(
                "bubblewrap (bwrap) is not installed, so student code cannot be isolated. Install it "
                "(apt-get install bubblewrap) or, for local development only, set "
                "GRADER_ENV=development and GRADER_SANDBOX_BACKEND=insecure-subprocess."
            )
        self.bwrap = path
        self.host_uid_base = host_uid_base
        self.host_uid_span = host_uid_span

    def _binds(self) -> list[str]:
        args = ["--ro-bind", "/usr", "/usr"]
        for name in ("lib", "lib64", "bin", "sbin"):
            if os.path.islink(f"/{name}"):
                args += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
            elif os.path.isdir(f"/{name}"):
                args += ["--ro-bind", f"/{name}", f"/{name}"]
        for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime"):
            if os.path.exists(etc):
                args += ["--ro-bind", etc, etc]
        for prefix in {sys.prefix, sys.base_prefix}:
            if not prefix.startswith("/usr/"):
                args += ["--ro-bind", prefix, prefix]
        for rel in AGENT_FILES:
            args += ["--ro-bind", str(PACKAGE_ROOT / rel), f"{INSIDE_AGENT_ROOT}/{rel}"]
        return args

    def command(self, spec: SandboxSpec, seccomp_fd: int) -> list[str]:
        """The bwrap command line. The tmpfs mounts come first: a bind made before them would be hidden
        when its path lies under one of them (a checkout under /tmp, say)."""
        limits = spec.limits
        cmd = [
            self.bwrap,
            "--unshare-user",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--uid",
            str(INSIDE_UID),
            "--gid",
            str(INSIDE_UID),
            "--hostname",
            "sandbox",
            "--clearenv",
        ]
        for key, value in _sandbox_env(limits, INSIDE_HOME).items():
            cmd += ["--setenv", key, value]
        if spec.model_cache is not None:
            cmd += ["--setenv", "HF_HOME", str(spec.model_cache)]
        if spec.gpu and spec.cuda_visible_devices is not None:
            cmd += ["--setenv", "CUDA_VISIBLE_DEVICES", spec.cuda_visible_devices]
        cmd += ["--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp"]
        cmd += ["--size", str(limits.tmpfs_bytes), "--tmpfs", INSIDE_HOME]
        cmd += ["--proc", "/proc", "--dev", "/dev"]
        # bwrap's /dev and the /dev/shm in it are an uncapped tmpfs (half the host's RAM, outside RLIMIT_AS):
        # /dev/shm gets the same cap as /tmp (POSIX shared memory, DataLoader workers' tensors), and /dev is
        # made read-only once every device is in place, so that no byte can be stored there.
        cmd += ["--size", str(limits.tmpfs_bytes), "--perms", "1777", "--tmpfs", "/dev/shm"]
        if spec.gpu:
            for dev in sorted(Path("/dev").glob("nvidia*")):
                cmd += ["--dev-bind", str(dev), str(dev)]
        cmd += ["--remount-ro", "/dev"]
        cmd += self._binds()
        if spec.model_cache is not None:
            cmd += ["--ro-bind", str(spec.model_cache), str(spec.model_cache)]
        if spec.environment is not None:
            cmd += ["--ro-bind", str(spec.environment), INSIDE_ENVIRONMENT]
        cmd += ["--ro-bind", str(spec.submission_dir), INSIDE_SOURCE]
        cmd += ["--seccomp", str(seccomp_fd), "--chdir", INSIDE_HOME, "--"]
        environment = INSIDE_ENVIRONMENT if spec.environment is not None else None
        return cmd + _agent_command(sys.executable, INSIDE_AGENT_ROOT, INSIDE_SOURCE, INSIDE_WORKDIR, spec, environment)

    def start(self, spec: SandboxSpec, *, replacing: bool = False) -> SandboxProcess:
        limits = spec.limits
        notes: list[str] = []
        seccomp = filter_fd()
        cmd = self.command(spec, seccomp)
        kwargs: _RunAs = {}
        extra_pids = 0
        if os.geteuid() == 0:
            if self.host_uid_base is None:
                raise ConfigurationError(
                    "The grader runs as root with GRADER_SANDBOX_UID_BASE unset: root is exempt from the "
                    "process limit, so a fork bomb would not be contained. Set a uid base or run as a non-root user."
                )
            needed = [Path(sys.prefix), Path(sys.base_prefix), PACKAGE_ROOT / "grader", spec.submission_dir]
            needed += [p for p in (spec.model_cache, spec.environment) if p is not None]
            blocked = [str(p) for p in needed if not _world_traversable(p)]
            if blocked:
                raise ConfigurationError(
                    "The grader runs as root, so each sandbox runs under a private uid, which cannot reach "
                    f"{', '.join(blocked)}: give their parent folders o+x (scripts/bootstrap does this for the "
                    "checkout) or run the grader as a non-root user."
                )
            # A uid of its own makes RLIMIT_NPROC count this sandbox alone (root is exempt from it).
            uid = self.host_uid_base + secrets.randbelow(self.host_uid_span)
            kwargs = {"user": uid, "group": uid, "extra_groups": []}
        else:
            extra_pids = _count_own_processes()
            notes.append("process limit shared with the grader's own uid (the grader does not run as root)")
        try:
            popen = _popen(_rlimit_prefix(limits, extra_pids) + cmd, {}, pass_fds=(seccomp,), **kwargs)
        finally:
            os.close(seccomp)
        return SandboxProcess(popen, limits, notes)


def _count_own_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid and len(list((entry / "task").iterdir()))
            except OSError:
                continue
    return count


class InsecureSubprocessLauncher:
    """Development only: runs the agent as a plain subprocess with rlimits and nothing else."""

    secure = False

    def start(self, spec: SandboxSpec, *, replacing: bool = False) -> SandboxProcess:
        agent_root = str(PACKAGE_ROOT)
        workdir = Path(spec.submission_dir).parent / f"work-{secrets.token_hex(4)}"
        environment = str(spec.environment) if spec.environment is not None else None
        cmd = _agent_command(sys.executable, agent_root, str(spec.submission_dir), str(workdir), spec, environment)
        env = _sandbox_env(spec.limits, str(workdir))
        popen = _popen(_rlimit_prefix(spec.limits, _count_own_processes()) + cmd, env)
        return SandboxProcess(popen, spec.limits, ["INSECURE: no sandbox (development mode)"])
