"""``grader submit --wait`` against a real service: its table shows failure messages, ``--server`` comes from
the settings; when the service goes away mid-wait it retries with backoff and ends with "still queued;
check with ..." instead of a traceback."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.utils.builders import traversable_dir, zip_of
from tests.utils.service import GRADER, Service, leftovers, service_env

pytestmark = [pytest.mark.bwrap, pytest.mark.service]

# Imported in the sandbox by the first check: its grading cannot finish before the service is stopped.
SLOW = "import time\ntime.sleep(30)\n\ndef add(a, b):\n    return a + b\n\ndef pause():\n    pass\n"
WRONG = "def add(a, b):\n    return a - b\n\ndef pause():\n    pass\n"


def test_submit_wait_shows_failures_then_outlives_the_service() -> None:
    root = traversable_dir("grader-test-submit-")
    service = Service(root, service_env(root)).start()
    try:
        token = service.students("visibility", "quinn")["quinn"]
        wrong, slow = root / "wrong.zip", root / "slow.zip"
        wrong.write_bytes(zip_of({"good.py": WRONG}))
        slow.write_bytes(zip_of({"good.py": SLOW}))
        # No --server: the settings' port, as the service reads it.
        env = {**service.env, "GRADER_API_PORT": str(service.port), "COLUMNS": "200"}
        done = subprocess.run(
            [GRADER, "submit", str(wrong), "--assignment", "visibility", "--token", token, "--wait"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "message" in done.stdout and "failed" in done.stdout and "Traceback" not in done.stderr

        args = [
            GRADER,
            "submit",
            str(slow),
            "--assignment",
            "visibility",
            "--token",
            token,
            "--wait",
            "--server",
            service.url,
            "--timeout",
            "12",
        ]
        cli = subprocess.Popen(args, env=service.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert cli.stderr is not None
        first = cli.stderr.readline()
        assert first.startswith("submitted: "), first
        sub_id = first.split()[1]
        time.sleep(1.5)  # a poll or two while it waits
        service.stop()
        _, err = cli.communicate(timeout=120)
    finally:
        if service.process is not None and service.process.poll() is None:
            service.stop()
    assert cli.returncode == 3, err
    assert "Traceback" not in err
    assert "cannot reach" in err and "trying again in" in err
    assert f"submission {sub_id} is still queued; check with: " in err and f"/api/v1/submissions/{sub_id}" in err
    missing = subprocess.run(
        [GRADER, "submit", "/nonexistent.zip", "--assignment", "visibility"], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    assert leftovers(root) == []
    shutil.rmtree(root, ignore_errors=True)
