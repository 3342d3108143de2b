"""A real worker loads a suite once per grading process and picks up a changed check file at the next job."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.utils.builders import traversable_dir, zip_of
from tests.utils.service import RedisServer, service_parts, wait_state

pytestmark = [pytest.mark.bwrap, pytest.mark.service, pytest.mark.slow]

CHECKS = """
from pathlib import Path

from grader.authoring import check

# Each import of this module leaves a line beside the suites (outside the suite folder, which it would change).
with open(Path(__file__).resolve().parent.parent / "imports.log", "a") as log:
    log.write("imported\\n")


@check(name="{NAME}", number="1", points=1, timeout=30)
def one(student):
    assert student.module("answer").VALUE == 42
"""


def write_suite(suites: Path, name: str) -> None:
    folder = suites / "reloading"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.toml").write_text(
        'id = "reloading"\ntitle = "Reloading"\ntotal_points = 1\npython_path = ["."]\n'
        '[files]\nrequired = ["answer.py"]\n'
    )
    (folder / "checks_one.py").write_text(CHECKS.replace("{NAME}", name))


def test_a_changed_check_file_is_picked_up_by_the_next_job(workspace: Path) -> None:
    root = traversable_dir("grader-test-reload-")
    suites = root / "mysuites"
    write_suite(suites, "version one")
    imports = suites / "imports.log"
    redis = RedisServer(workspace).start()
    archive = zip_of({"answer.py": "VALUE = 42\n"})
    try:
        # One grading process (the count below is per process), which Celery keeps for every job.
        env = {"GRADER_SUITES_DIR": str(suites), "GRADER_WORKER_CONCURRENCY": "1"}
        with service_parts(root, redis.url, **env) as parts, parts.client() as c:

            def grade() -> dict:  # type: ignore[type-arg]
                sent = c.post(
                    "/api/v1/assignments/reloading/submissions", files={"file": ("s.zip", archive, "application/zip")}
                )
                assert sent.status_code in (200, 201, 202), sent.text
                done = wait_state(c, sent.json()["id"], timeout=180)
                assert done["state"] == "done", done
                return done["report"]  # type: ignore[no-any-return]

            first, second = grade(), grade()
            assert [t["name"] for t in first["tests"] + second["tests"]] == ["version one"] * 2
            assert first["score"] == second["score"] == 1
            assert imports.read_text().count("imported") == 1  # one grading process, one import, two jobs

            write_suite(suites, "version two, edited")
            third = grade()
            assert [t["name"] for t in third["tests"]] == ["version two, edited"] and third["score"] == 1
            assert imports.read_text().count("imported") == 2
    finally:
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)
