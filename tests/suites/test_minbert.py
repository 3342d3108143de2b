"""minbert suite against our reference (full marks) and its mutants (each loses exactly its checks).

The mutants are graded by ``grader suite verify`` (grader.engine.verify): every check of the suite runs,
and mutants whose edits reach disjoint checks (reference_solutions/minbert/verify.toml's ``[reach]``)
share one grading. What each must lose, and what its messages must say, is in its toml.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import Suite, load_assignment
from tests.utils.builders import assert_verified, make_zip, settings_for, traversable_dir, verify_packs

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

REFERENCE = PROJECT_ROOT / "reference_solutions" / "minbert"


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-minbert-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_assignment(PROJECT_ROOT / "test_suites", "minbert")


def test_reference_in_a_student_id_folder_gets_full_marks(suite: Suite, workspace: Path) -> None:
    # The handout's zip holds one top-level folder named after the student id.
    archive = make_zip(REFERENCE, workspace / "andrewid.zip", wrapper="andrewid/")
    report = grade(suite, archive, settings_for(workspace / "var"))
    assert report.score == report.max_score == 100, [(t.number, t.output) for t in report.tests if t.result != "passed"]
    assert report.status == "graded" and report.sandbox_secure
    by_number = {t.number: t for t in report.tests}
    assert "Accuracy against the gold labels: sst-dev" in by_number["4.1"].output
    assert all(t.output == "" for t in report.tests if t.number != "4.1"), [t.output for t in report.tests]


@pytest.mark.parametrize("names", verify_packs("minbert", "mutant"), ids="+".join)
def test_mutants_lose_exactly_their_checks(names: tuple[str, ...], workspace: Path) -> None:
    assert_verified("minbert", "mutant", names, workspace / "var")
