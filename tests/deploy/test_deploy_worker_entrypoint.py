"""docker/worker-entrypoint.sh and docker/worker-healthcheck.py, run outside Docker with the compose
file's worker environment against a real Redis: the worker comes up, answers the health check, and
stops on SIGTERM (a warm shutdown) leaving nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.store.redis_server import EmbeddedRedis
from tests.deploy.deploy_files import DOCKER_DIR, interpolate, load
from tests.utils.builders import SHARED_ENVS

ENTRYPOINT = DOCKER_DIR / "worker-entrypoint.sh"
HEALTHCHECK = DOCKER_DIR / "worker-healthcheck.py"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"


def worker_env(root: Path, redis_url: str) -> dict[str, str]:
    """worker-cpu's environment from docker-compose.yml, with the container paths moved under ``root``."""
    env = {key: interpolate(value) for key, value in load()["services"]["worker-cpu"]["environment"].items()}
    paths = {
        "GRADER_DATA_DIR": root / "var",
        "GRADER_BLOB_DIR": root / "blobs",
        "HF_HOME": root / "hf",
        "GRADER_SUITES_DIR": PROJECT_ROOT / "test_suites",
    }
    assert set(paths) <= set(env), "the compose file's worker environment changed"
    for key, path in paths.items():
        Path(path).mkdir(parents=True, exist_ok=True)
        env[key] = str(path)
    env["REDIS_URL"] = redis_url
    env["GRADER_ENVS_DIR"] = str(SHARED_ENVS)  # the students' environments scripts/bootstrap built: no download
    return {**env, "PATH": f"{VENV_BIN}:/usr/bin:/bin", "GRADER_HEALTHCHECK_TIMEOUT": "2"}


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis")
    yield server
    server.shutdown()


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=60)


def wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        assert process.poll() is None, f"the worker exited with {process.returncode}:\n{log.read_text()}"
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the worker's log after {timeout} s:\n{log.read_text()}")


@pytest.mark.slow
def test_worker_comes_up_answers_the_healthcheck_and_stops_on_sigterm(
    tmp_path: Path, workspace: Path, redis: EmbeddedRedis
) -> None:
    # Its folders where a root worker's sandboxes can pass (pytest's tmp_path is 0700): it refuses otherwise.
    env = worker_env(workspace, redis.url)
    unhealthy = healthcheck(env)  # Redis is up but no worker yet
    assert unhealthy.returncode == 1 and "no worker" in unhealthy.stderr, unhealthy.stderr

    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ENTRYPOINT)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(log, " ready.", process, timeout=90)
        text = log.read_text()
        assert "Redis is up; starting grader worker --queues cpu" in text
        assert ".> cpu " in text and ".> gpu " not in text  # the compose file's queue, not the default cpu,gpu
        # exec: the entrypoint's pid is now the worker itself, so tini's SIGTERM reaches it.
        assert b"worker" in Path(f"/proc/{process.pid}/cmdline").read_bytes()

        healthy = healthcheck(env)
        assert healthy.returncode == 0 and "healthy: grader-cpu-" in healthy.stdout, healthy.stderr

        process.send_signal(signal.SIGTERM)
        # A grading process that has not finished importing its suites (worker_process_init: torch,
        # transformers, on a busy host a minute or more) ends once it has; the compose file allows 20 min.
        assert process.wait(timeout=240) == 0
        assert "Warm shutdown" in log.read_text()
        deadline = time.monotonic() + 10
        while group_alive(process.pid) and time.monotonic() < deadline:  # the pool child goes with it
            time.sleep(0.1)
        assert not group_alive(process.pid), "processes of the worker outlived it"
    finally:
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.slow
def test_entrypoint_gives_up_when_redis_never_answers(tmp_path: Path) -> None:
    env = worker_env(tmp_path, f"redis+socket://{tmp_path}/no-redis.sock")
    env["GRADER_REDIS_WAIT_SECONDS"] = "6"
    started = time.monotonic()
    out = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=60, start_new_session=True)
    assert out.returncode == 1
    assert "waiting for Redis" in out.stderr and "did not answer within 6 s" in out.stderr
    assert "no-redis.sock" not in out.stderr  # the URL (it may hold a password) is never printed
    assert time.monotonic() - started < 6 + 5 + 8 + 5  # the budget, one bounded try, one backoff, slack


def test_entrypoint_requires_redis_url(tmp_path: Path) -> None:
    env = worker_env(tmp_path, "unused")
    del env["REDIS_URL"]
    out = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "REDIS_URL must be set" in out.stderr
