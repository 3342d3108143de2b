"""CS224N A5 on forms real submissions use (issue 21): masked lengths (class 5), num_workers (class 8), two
Perceiver defects in one block (class 6).

Each variant (``reference_solutions/cs224n_a5/variants``) is our reference edited into a correct form
that is fixed for the shortest truncations only; the span checks judge statistical properties at the
handout's block size (128), where these forms keep full marks and the rounding defect does not.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import load_assignment
from tests.utils.builders import apply_mutant, apply_mutants, settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

SPAN = {"1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8"}
WIRING = {"6.1", "6.2", "6.3", "6.4", "6.5"}
REFERENCE = PROJECT_ROOT / "reference_solutions" / "cs224n_a5"


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-cs224n-handouts-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _span_report(submission: Path, workspace: Path, checks: set[str] = SPAN) -> dict[str, tuple[str, float, str]]:
    suite = load_assignment(PROJECT_ROOT / "test_suites", "cs224n-a5")
    suite = dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.number in checks))
    report = grade(suite, submission, settings_for(workspace / "var"))
    return {t.number: (t.result, t.score, t.output) for t in report.tests}


@pytest.mark.parametrize("variant", ["span_length_exclusive_high", "span_length_narrow_normal"])
def test_masked_length_fixed_only_for_the_shortest_truncations_keeps_full_marks(variant: str, workspace: Path) -> None:
    submission = apply_mutant(variant, workspace / variant, REFERENCE, folder="variants")
    by_number = _span_report(submission, workspace)
    assert {n for n, (result, _, _) in by_number.items() if result != "passed"} == set(), by_number
    assert sum(score for _, score, _ in by_number.values()) == 10


def test_masked_length_that_rounds_to_a_constant_below_32_fails_with_the_lengths_named(workspace: Path) -> None:
    submission = apply_mutant("span_length_deterministic_small_k", workspace / "rounding")
    result, score, output = _span_report(submission, workspace)["1.7"]
    assert (result, score) == ("failed", 0)
    # What was run, what was found (each fixed k with its one length), what was expected.
    assert "At block_size=128" in output and "k=8: always 2" in output and "at most 10% accepted" in output


def test_num_workers_two_is_a_note_not_a_failure(workspace: Path) -> None:
    """num_workers changes only the loading speed: each command passes and says what differs."""
    submission = apply_mutant("run_num_workers_two", workspace / "workers", REFERENCE, folder="variants")
    by_number = _span_report(submission, workspace, WIRING)
    assert {n for n, (result, _, _) in by_number.items() if result != "passed"} == set(), by_number
    for _, _, output in by_number.values():
        assert "num_workers=2 (the handout has 4; it changes only the data loading speed)" in output


def test_a_plain_tensor_basis_does_not_hide_the_mlp_applied_to_ln2_of_c(workspace: Path) -> None:
    """A corpus form: C kept as a plain tensor and the down block's MLP on ln2(C). 2.1 names the first; 2.7 sets
    the grader's C as that attribute and still judges the block, so the second is named too."""
    submission = apply_mutants(("perceiver_c_plain_tensor", "perceiver_mlp_on_c"), workspace / "two_defects")
    by_number = _span_report(submission, workspace, {"2.1", "2.7"})
    assert {n for n, (result, _, _) in by_number.items() if result != "passed"} == {"2.1", "2.7"}
    _, _, output = by_number["2.7"]
    assert "DownProjectBlock.C is a plain tensor" in output
    assert "DownProjectBlock's output for an input of length 16 matches none of the accepted formulations" in output
    assert "Not graded" not in output
