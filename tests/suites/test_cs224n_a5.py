"""CS224N A5 suite against our reference and its mutants (each loses exactly its checks).

The mutants are graded by ``grader suite verify`` (grader.engine.verify): every check of the suite runs,
and mutants whose edits reach disjoint checks (reference_solutions/cs224n_a5/verify.toml's ``[reach]``)
share one grading. What each must lose, and what its messages must say, is in its toml: e.g. the
warning-only bug classes of the spec (an extra unused parameter, a debug print) keep full marks with a
note, and ``perceiver_c_moved_to_device`` is only visible where CUDA exists (`.to('cuda')` returns a plain
tensor): on a CPU-only worker it is, by construction, indistinguishable from the reference.

Our reference has no trained params or predictions yet (training needs a GPU): the checks that need
them (``MISSING_ARTIFACTS``) fail with a message naming the missing file, every other check passes.
The predictions and re-execution checks run for real on the tiny fixture (test_cs224n_a5_fixture.py).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import load_assignment
from grader.models.report import GradeReport
from tests.utils.builders import (
    CS224N_MISSING_ARTIFACTS,
    REFERENCE,
    SHARED_ENVS,
    assert_verified,
    make_zip,
    settings_for,
    traversable_dir,
    verify_packs,
)

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

SPAN = {"1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8"}
PERCEIVER_ALL = {"2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"}
MODEL_CHECKS = SPAN | PERCEIVER_ALL | {"3.1"}
MISSING_ARTIFACTS = set(CS224N_MISSING_ARTIFACTS)
REFERENCE_SCORE = 33 - 1 - 1 - 5 - 5 - 0 - 8  # everything but the predictions files


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-suite-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_reference_through_the_cli_lacks_exactly_the_trained_artifacts(workspace: Path) -> None:
    out = subprocess.run(
        [
            str(PROJECT_ROOT / ".venv" / "bin" / "grader"),
            "grade",
            str(REFERENCE),
            "--assignment",
            "cs224n-a5",
            "--json",
            "--out",
            str(workspace / "report.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "GRADER_DATA_DIR": str(workspace / "var"), "GRADER_ENVS_DIR": str(SHARED_ENVS)},
    )
    assert out.returncode == 0, out.stderr
    report = GradeReport.model_validate_json(out.stdout)
    assert (report.score, report.max_score) == (REFERENCE_SCORE, 33)
    passed = [t for t in report.tests if t.number not in MISSING_ARTIFACTS]
    assert all(t.result == "passed" and t.output == "" for t in passed), [(t.number, t.output) for t in passed]
    lacking = {t.number: t.output for t in report.tests if t.result != "passed"}
    assert set(lacking) == MISSING_ARTIFACTS
    for number, output in lacking.items():
        assert output.startswith("Not graded: needs the file ") and "which your submission lacks" in output, (
            number,
            output,
        )
    assert report.sandbox_secure and report.status == "graded"
    assert json.loads((workspace / "report.json").read_text())["score"] == REFERENCE_SCORE


def test_reference_zipped_in_a_wrapper_folder_gets_full_marks(workspace: Path) -> None:
    archive = make_zip(REFERENCE, workspace / "assignment5_submission.zip", wrapper="a5/")
    suite = load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5")
    # Unpacking is what is tested: the model checks suffice (the CLI test above runs every check).
    suite = dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.number in MODEL_CHECKS))
    report = grade(suite, archive, settings_for(workspace / "var"))
    assert report.score == 10, [(t.number, t.output) for t in report.tests if t.result != "passed"]
    assert any("a5" in note for note in report.unpack_notes)


@pytest.mark.parametrize("names", verify_packs("cs224n_a5", "mutant"), ids="+".join)
def test_mutants_lose_exactly_their_checks(names: tuple[str, ...], workspace: Path) -> None:
    assert_verified("cs224n_a5", "mutant", names, workspace / "var")
