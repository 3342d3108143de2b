"""docker-compose.yml: valid for Compose (docker-compose v1's `config`) and shaped as docs/DEPLOY.md says."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grader.config import PROJECT_ROOT
from tests.deploy.deploy_files import COMPOSE, OVERRIDE, load, mounts

WORKERS = ("worker-cpu", "worker-gpu")
BLOBS, SUITES, HF = "/srv/grader/blobs", "/srv/grader/suites", "/srv/grader/hf"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE)


def compose_config(tmp_path: Path, *files: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose [-f FILE]... config`: schema validation and interpolation, no engine needed."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: run scripts/bootstrap (it installs Debian's docker-compose)")
    args = [binary, "--project-directory", str(PROJECT_ROOT)]
    for f in files:
        args += ["-f", str(f)]
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env}
    return subprocess.run([*args, "config"], cwd=PROJECT_ROOT, env=full_env, capture_output=True, text=True, timeout=60)


def required_paths(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "suites").mkdir(exist_ok=True)
    (tmp_path / "hf").mkdir(exist_ok=True)
    return {"GRADER_SUITES_PATH": str(tmp_path / "suites"), "GRADER_HF_CACHE_PATH": str(tmp_path / "hf")}


@pytest.mark.parametrize("files", [(COMPOSE,), (COMPOSE, OVERRIDE)], ids=["production", "with-override"])
def test_compose_file_validates(tmp_path: Path, files: tuple[Path, ...]) -> None:
    out = compose_config(tmp_path, *files, **required_paths(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "worker-gpu" in out.stdout and str(tmp_path / "suites") in out.stdout


def test_required_settings_fail_with_their_message(tmp_path: Path) -> None:
    out = compose_config(tmp_path, COMPOSE)
    assert out.returncode != 0
    assert "GRADER_SUITES_PATH" in out.stderr or "GRADER_HF_CACHE_PATH" in out.stderr, out.stderr


def test_redis_is_persistent_and_health_checked(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    source, read_only = mounts(redis)["/data"]
    assert source in compose["volumes"] and not read_only
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_api_and_workers_wait_for_a_healthy_redis_and_share_blobs_and_suites(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api", *WORKERS):
        service, env = services[name], services[name]["environment"]
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name
        assert env["GRADER_BLOB_DIR"] == BLOBS and env["GRADER_SUITES_DIR"] == SUITES, name
        volumes = mounts(service)
        assert volumes[BLOBS] == ("blobs", False), name  # the same named volume at the same path
        assert volumes[SUITES] == ("suites", True), name  # hidden suites: read-only everywhere
    assert services["api"]["ports"] == ["${GRADER_API_PUBLISH:-8000}:8000"]


def test_host_folders_must_be_set(compose: dict[str, Any]) -> None:
    volumes = compose["volumes"]
    assert volumes["suites"]["driver_opts"]["device"].startswith("${GRADER_SUITES_PATH:?")
    assert volumes["hf-cache"]["driver_opts"]["device"].startswith("${GRADER_HF_CACHE_PATH:?")
    assert "blobs" in volumes and "redis-data" in volumes


def test_workers_read_an_offline_model_cache_read_only(compose: dict[str, Any]) -> None:
    for name in WORKERS:
        service = compose["services"][name]
        env = service["environment"]
        assert env["HF_HOME"] == HF and env["HF_HUB_OFFLINE"] == "1", name
        assert mounts(service)[HF] == ("hf-cache", True), name
    assert "HF_HOME" not in compose["services"]["api"]["environment"]


def test_worker_queues_and_the_gpu_reservation(compose: dict[str, Any]) -> None:
    cpu, gpu = (compose["services"][name] for name in WORKERS)
    assert cpu["environment"]["GRADER_WORKER_QUEUES"] == "cpu" and cpu["build"]["args"]["VARIANT"] == "cpu"
    assert gpu["environment"]["GRADER_WORKER_QUEUES"] == "gpu" and gpu["build"]["args"]["VARIANT"] == "gpu"
    assert gpu["environment"]["GRADER_WORKER_CONCURRENCY"] == "1"
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    assert "deploy" not in cpu


def test_workers_get_the_sandbox_options_and_nothing_more(compose: dict[str, Any]) -> None:
    for name in WORKERS:
        service = compose["services"][name]
        options = service["security_opt"]
        (seccomp,) = [o for o in options if o.startswith("seccomp=")]
        assert (PROJECT_ROOT / seccomp.removeprefix("seccomp=")).is_file()
        assert "seccomp=unconfined" not in options
        assert {"apparmor=unconfined", "systempaths=unconfined", "no-new-privileges:true"} <= set(options)
        assert service["cap_drop"] == ["ALL"] and "cap_add" not in service
        assert not service.get("privileged") and "devices" not in service and service.get("pid") is None


@pytest.mark.parametrize("path", [COMPOSE, OVERRIDE], ids=["base", "override"])
def test_nothing_is_privileged(path: Path) -> None:
    for name, service in load(path)["services"].items():
        assert not service.get("privileged"), name
        assert not service.get("cap_add"), name
        assert service.get("network_mode") != "host" and service.get("pid") != "host", name


def test_flower_is_an_optional_monitoring_profile(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert flower["profiles"] == ["monitoring"]
    assert flower["image"].startswith("mher/flower")
    assert flower["environment"]["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"])  # no auth: loopback only
    assert all("profiles" not in s for n, s in compose["services"].items() if n != "flower")


def test_override_is_for_development(compose: dict[str, Any]) -> None:
    override = load(OVERRIDE)["services"]
    assert set(override) <= set(compose["services"])
    for name in ("api", *WORKERS):
        assert override[name]["environment"]["GRADER_ENV"] == "development", name
        (source,) = [m for m in override[name]["volumes"] if isinstance(m, dict)]
        assert source["source"] == "./grader" and source["read_only"], name
    assert all(p.startswith("127.0.0.1:") for p in override["redis"]["ports"])
