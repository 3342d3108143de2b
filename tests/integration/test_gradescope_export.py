"""`grader export-gradescope` end to end: the zip's layout, then its run_autograder in a folder laid out
like Gradescope's container (``<root>/source`` = the zip, ``<root>/submission``, ``<root>/results``).

setup.sh is only syntax-checked (no apt or pip here): run_autograder uses this checkout's venv through
GRADER_PYTHON. Gradescope itself is not involved; docs/GRADESCOPE.md lists what only it can confirm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.suites import load_assignment, load_suite
from grader.export.bundle import build_autograder_zip
from tests.utils.builders import CS224N_MISSING_ARTIFACTS, REFERENCE, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

SUITE = PROJECT_ROOT / "test_suites" / "cs224n_a5"
N_CHECKS = len(load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5").checks)
#: a graded report also lists, before the release, one visible 0-point entry per hidden-label check
N_ENTRIES = N_CHECKS + len(
    load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5").manifest.policy.hidden_label_checks
)
VENV_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
RESULT_KEYS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
TEST_KEYS = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the operator's grader settings, plus ``extra``."""
    drop = ("GRADER_", "REDIS_URL", "HF_HOME", "AUTOGRADER_")
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)} | extra


@pytest.fixture(scope="module")
def exported() -> Iterator[Path]:
    work = traversable_dir("grader-test-gs-export-")
    out = work / "autograder.zip"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "export-gradescope", "--assignment", "cs224n-a5", "--out", str(out)],
        cwd=PROJECT_ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    yield out
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def gradescope_root(exported: Path) -> Iterator[Path]:
    """``<root>/source`` holds the zip's files with their modes, ``<root>/results`` is empty."""
    root = traversable_dir("grader-test-gs-root-")
    with zipfile.ZipFile(exported) as zf:
        for info in zf.infolist():
            target = Path(zf.extract(info, root / "source"))
            target.chmod((info.external_attr >> 16) & 0o777 or 0o644)
    (root / "results").mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def reference_submission(root: Path) -> Path:
    return Path(
        shutil.copytree(REFERENCE, root / "submission", ignore=shutil.ignore_patterns("mutants", "__pycache__"))
    )


def run_autograder(root: Path, **env: str) -> tuple[dict[str, Any], str]:
    """Run the bundled run_autograder as Gradescope would; return results.json and the (staff) stdout."""
    settings = {"AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": str(VENV_PYTHON)} | env
    done = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        cwd=root,
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = root / "results" / "results.json"
    assert results.is_file(), done.stdout + done.stderr
    return json.loads(results.read_text(encoding="utf-8")), done.stdout + done.stderr


def keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


def assert_gradescope_format(data: dict[str, Any]) -> None:
    """Gradescope's results.json: only its keys, consistent scores, stdout hidden, nothing of staff's."""
    assert set(data) <= RESULT_KEYS, set(data) - RESULT_KEYS
    assert isinstance(data["score"], int | float) and isinstance(data["execution_time"], int | float)
    assert data["stdout_visibility"] == "hidden"
    assert data.get("visibility", "visible") in VISIBILITIES
    for test in data["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert {"name", "number", "score", "max_score", "status"} <= set(test), test
        assert test["status"] in ("passed", "failed") and 0 <= test["score"] <= test["max_score"]
        assert test.get("visibility", "visible") in VISIBILITIES
    if data["tests"]:
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    assert not any(k.startswith("staff") for k in keys_anywhere(data))
    assert "staff_output" not in json.dumps(data)


def test_zip_layout(exported: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(exported) as zf:
        names = zf.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        zf.extractall(tmp_path)
    assert {"setup.sh", "run_autograder", "export.json", "project/pyproject.toml", "project/README.md"} <= set(names)
    assert "project/grader/export/gradescope_run.py" in names and "project/grader/sandbox/agent/server.py" in names
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    # The suite, hidden data included, byte for byte.
    assert "suites/cs224n_a5/suite.toml" in names
    assert (tmp_path / "suites/cs224n_a5/data/wiki.txt").read_bytes() == (SUITE / "data" / "wiki.txt").read_bytes()
    for name in names:
        parts = set(name.split("/"))
        assert not parts & {".venv", "venv", "__pycache__", "var", ".git"} and not name.endswith(".pyc"), name
    meta = json.loads((tmp_path / "export.json").read_text())
    assert meta["assignment"] == "cs224n-a5" and meta["torch"] == "torch==2.13.0" and meta["max_score"] == 33
    for script in ("setup.sh", "run_autograder"):
        check = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    setup = (tmp_path / "setup.sh").read_text()
    assert "bubblewrap" in setup and "python3-venv" in setup and "util-linux" in setup
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in setup


def test_reference_gets_full_marks_in_gradescope_layout(gradescope_root: Path) -> None:
    """Full marks on every check except the ones that need trained artifacts our reference cannot have
    until it is trained on a GPU (tests/suites/test_cs224n_a5.py: CS224N_MISSING_ARTIFACTS)."""
    reference_submission(gradescope_root)
    # An operator's development settings must not switch the sandbox off: the export forces bwrap.
    data, stdout = run_autograder(
        gradescope_root, GRADER_ENV="development", GRADER_SANDBOX_BACKEND="insecure-subprocess"
    )
    assert_gradescope_format(data)
    failed = {t["number"] for t in data["tests"] if t["status"] != "passed"}
    assert failed == CS224N_MISSING_ARTIFACTS, stdout
    assert data["score"] == sum(t["max_score"] for t in data["tests"] if t["number"] not in CS224N_MISSING_ARTIFACTS), (
        stdout
    )
    assert data["execution_time"] > 0 and data["extra_data"]["status"] == "graded"
    assert '"sandbox_secure": true' in stdout  # the staff report, on stdout only
    wiki_line = next(line for line in (SUITE / "data" / "wiki.txt").read_text().splitlines() if len(line) > 60)
    assert wiki_line not in json.dumps(data)


def test_submission_without_src_scores_zero_with_a_message(gradescope_root: Path) -> None:
    submission = gradescope_root / "submission"
    submission.mkdir()
    (submission / "README.md").write_text("I forgot my code.\n")
    data, stdout = run_autograder(gradescope_root)
    assert_gradescope_format(data)
    assert data["score"] == 0 and len(data["tests"]) == N_ENTRIES, stdout
    assert "Missing required file(s): src/attention.py" in data["output"]


def test_unusable_sandbox_fails_closed_and_says_so(gradescope_root: Path) -> None:
    reference_submission(gradescope_root)
    fake = gradescope_root / "fake-bwrap"  # what bwrap says in a container that forbids user namespaces
    fake.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)
    data, stdout = run_autograder(gradescope_root, GRADER_BWRAP_PATH=str(fake))
    assert_gradescope_format(data)
    assert data["score"] == 0 and data["extra_data"]["status"] == "sandbox_unavailable"
    assert "could not start its security sandbox" in data["output"] and "none of your code was run" in data["output"]
    assert (
        all(t["score"] == 0 and t["output"].startswith("Not run") for t in data["tests"])
        and len(data["tests"]) == N_CHECKS
    )
    assert "Creating new namespace failed" in stdout and "Creating new namespace" not in json.dumps(data)


def test_grader_that_cannot_start_still_leaves_results(gradescope_root: Path) -> None:
    reference_submission(gradescope_root)
    data, stdout = run_autograder(gradescope_root, GRADER_PYTHON=str(gradescope_root / "no-such-python"))
    assert_gradescope_format(data)
    assert data["score"] == 0 and data["tests"] == [] and data["extra_data"]["status"] == "grader_error"
    assert "not graded" in data["output"] and "exit status 127" in data["output"], stdout


def test_a_suite_that_imports_a_sibling_suites_helpers_is_exported_with_them(tmp_path: Path) -> None:
    """gsds-a4 grades with minbert's BERT helpers: the bundle carries them, so its suite loads on its own."""
    bundle = build_autograder_zip(PROJECT_ROOT / "test_suites", "gsds-a4", tmp_path / "autograder.zip")
    assert "suites/minbert/bertlib/reference.py" in bundle.names
    assert not any(n.startswith("suites/minbert/checks") or n.startswith("suites/cs224n_a5") for n in bundle.names)
    with zipfile.ZipFile(bundle.path) as zf:
        zf.extractall(tmp_path / "source", [n for n in zf.namelist() if n.startswith("suites/")])
    extracted = load_suite(tmp_path / "source" / "suites" / "gsds_a4")
    original = load_assignment(PROJECT_ROOT / "test_suites", "gsds-a4")
    assert [c.number for c in extracted.checks] == [c.number for c in original.checks]
