"""minbert forgeries (issue 20): submissions that implement nothing and gain 0 on the checks they target.

Each forgery (``reference_solutions/minbert/forgeries/*.toml``) names its ``targets``. Forgeries are
graded with their targets only, and two share a grading only when neither's file is run by the other's
checks (as the mutants in ``test_minbert.py``), so a target lost is lost to that forgery alone.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import Suite, load_assignment
from tests.utils.builders import apply_mutants, mutant_names, mutant_spec, pack_disjoint, settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

REFERENCE = PROJECT_ROOT / "reference_solutions" / "minbert"
#: The checks that execute each file's code (as in test_minbert.py).
RUNS_FILE = {
    "bert.py": {"1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2"},
    "classifier.py": {"2.1", "2.2"},
    "optimizer.py": {"3.1", "3.2"},
}
#: forgery -> the checks it targets (also written in its toml, asserted equal below).
TARGETS = {
    "bert_zero_weights_returns_zeros": {"1.1", "1.2", "1.3", "1.4", "1.5"},
    "bert_reports_zero_state": {"1.1", "1.2", "1.3", "1.4", "1.5"},
    "head_uniform_zero_linear": {"2.1"},
    "head_reinit_in_forward": {"2.1"},
    "adamw_writes_fixture": {"3.1"},
}


def _spec(name: str) -> dict[str, object]:
    return mutant_spec(name, REFERENCE, folder="forgeries")


def _runs(name: str) -> set[str]:
    return RUNS_FILE[str(_spec(name)["file"])]


def _batches() -> list[tuple[str, ...]]:
    return pack_disjoint(sorted(TARGETS), _runs)


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-minbert-forgeries-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_assignment(PROJECT_ROOT / "test_suites", "minbert")


def test_every_forgery_is_listed_with_its_targets() -> None:
    assert sorted(TARGETS) == mutant_names(REFERENCE, folder="forgeries")
    for name, targets in TARGETS.items():
        assert set(_spec(name)["targets"]) == targets, name  # type: ignore[call-overload]


@pytest.mark.parametrize("names", _batches(), ids="+".join)
def test_forgeries_gain_nothing_on_their_targets(names: tuple[str, ...], suite: Suite, workspace: Path) -> None:
    targets = set().union(*(TARGETS[n] for n in names))
    subset = dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.number in targets))
    submission = apply_mutants(names, workspace / names[0], REFERENCE, folder="forgeries")
    report = grade(subset, submission, settings_for(workspace / "var"))
    scores = {t.number: t.score for t in report.tests}
    assert set(scores) == targets and all(score == 0 for score in scores.values()), scores
