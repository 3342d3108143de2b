"""``grader serve`` with its data folder where a sandbox's private uid cannot pass (a ``mktemp -d``
folder, 0700): it makes its own folder passable and grades, or refuses to start and says why; /healthz
says when a folder stops being usable; and as root the worker starts without Celery's root warning.

As a non-root user sandboxes share the grader's uid, so a 0700 data folder is fine as it is: each test
states what a non-root run must see as well.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.builders import traversable_dir, zip_of
from tests.utils.service import GRADER, Service, leftovers, service_env, wait_state

pytestmark = [pytest.mark.service, pytest.mark.bwrap]

ROOT = os.geteuid() == 0
GOOD = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"
HONEST = zip_of({"good.py": GOOD, "evil.py": "def answer(x):\n    return x * x\n"})


@pytest.fixture
def private() -> Iterator[Path]:
    """A folder as ``mktemp -d`` makes it: mode 0700."""
    path = Path(tempfile.mkdtemp(prefix="grader-test-private-"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def root() -> Iterator[Path]:
    path = traversable_dir("grader-test-startup-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_0700_data_folder_of_its_own_is_made_passable_and_submissions_are_graded(root: Path, private: Path) -> None:
    service = Service(root, service_env(root, GRADER_DATA_DIR=str(private))).start()
    try:
        # o+x added (passing, not listing) as root; a non-root grader needs nothing and changes nothing.
        assert stat.S_IMODE(private.stat().st_mode) == (0o701 if ROOT else 0o700)
        health = httpx.get(f"{service.url}/healthz").json()
        assert health["status"] == "ok" and health["details"] == {}
        with httpx.Client(
            base_url=service.url, headers={"Authorization": f"Bearer {service.token('ta')}"}, timeout=60
        ) as c:
            r = c.post("/api/v1/assignments/toy/submissions", files={"file": ("s.zip", HONEST, "application/zip")})
            body = wait_state(c, r.json()["id"])
        assert body["state"] == "done" and body["report"]["score"] == 3, body

        if ROOT:  # closed again behind the service's back: /healthz says so, and which folder
            private.chmod(0o700)
            r = httpx.get(f"{service.url}/healthz")
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            (problem,) = r.json()["details"]["folders"]
            assert f"cannot reach the scratch space {private}/scratch: {private} lets no other user pass" in problem
            private.chmod(0o701)
            assert httpx.get(f"{service.url}/healthz").status_code == 200
        log = (root / "serve.log").read_text()
        assert "superuser privileges" not in log  # Celery's root warning, silenced knowingly (docs/DEPLOY.md)
        assert ("the worker runs as root so that each sandbox gets a private uid" in log) == ROOT
    finally:
        service.stop()
    assert leftovers(root) == []


def test_a_data_folder_inside_a_folder_that_is_not_its_own_is_refused_at_start(root: Path, private: Path) -> None:
    data = private / "var"
    env = service_env(root, GRADER_DATA_DIR=str(data))
    if not ROOT:  # its sandboxes share its uid: nothing to refuse
        Service(root, env).start().stop()
        return
    out = subprocess.run([GRADER, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert f"cannot reach the scratch space {data}/scratch: {private} lets no other user pass" in out.stderr
    assert f"chmod o+x {private}" in out.stderr and "run the grader as a non-root user" in out.stderr
    assert stat.S_IMODE(private.stat().st_mode) == 0o700  # not the grader's own folder: left as it was
    assert not (data / "redis").exists()  # nothing started
    assert leftovers(root) == []


@pytest.mark.parametrize("part", [["api"], ["worker", "--queues", "cpu"]])
def test_each_part_refuses_to_start_without_its_suites_folder(root: Path, part: list[str]) -> None:
    env = service_env(root, REDIS_URL="redis://127.0.0.1:1", GRADER_SUITES_DIR=str(root / "missing"))
    out = subprocess.run([GRADER, *part], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"the suites folder (GRADER_SUITES_DIR) {root / 'missing'} does not exist." in out.stderr
