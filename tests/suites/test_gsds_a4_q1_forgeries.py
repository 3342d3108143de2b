"""gsds-a4 q1: forging submissions (issue 20) gain nothing on the checks they target.

Each forgery in ``reference_solutions/gsds_a4/forgeries/q1*.toml`` is our reference with an edit that
does no real work but tries to look as if it did: a trainer that forges the weights read back, degenerates
the model, re-initialises it, patches torch's own read-back, or reports made-up losses; a dataset split
made of invented rows; answers that ignore the inputs; a loader faked by class names or a model that
ignores the saved weights. Every check draws its inputs (weights, batches, captions, pairs, spans) per
grading in the trusted process, so each forgery must score 0 on its targets whatever is drawn. A
forgery is graded only with its target checks (the others are not what it attacks), and forgeries whose
edits no check of the other's runs share a grading (as the mutants do): a q1a edit cannot reach a q1b
check, and q1b's dataset cell runs only in 1.6, its Trainer only in 1.7 and 1.8.
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

REFERENCE = PROJECT_ROOT / "reference_solutions" / "gsds_a4"
#: forgery -> the checks it must gain 0 on (the same as its toml's ``targets``).
TARGETS = {
    "q1a_constant_answers": {"1.2", "1.3", "1.4"},
    "q1a_fake_tokenizer_and_model": {"1.1"},
    "q1a_model_ignores_saved_weights": {"1.1"},
    "q1b_honest_weights_fixed_losses": {"1.7", "1.8"},
    "q1b_patches_torch_readback": {"1.7", "1.8"},
    "q1b_reinitialises_weights": {"1.7", "1.8"},
    "q1b_split_made_up_rows": {"1.6"},
    "q1b_state_dict_zeros_log40": {"1.7", "1.8"},
    "q1b_zeroed_model_log40": {"1.7", "1.8"},
}
#: What the failure must say (the diagnosis, not the grader's expected values).
PHRASES = {
    "q1a_constant_answers": {"1.2": "is not the encoding", "1.3": "generateAnswer returned", "1.4": "end >= start"},
    "q1a_fake_tokenizer_and_model": {"1.1": "AutoTokenizer.from_pretrained(model_path)"},
    "q1a_model_ignores_saved_weights": {"1.1": "AutoModelForQuestionAnswering.from_pretrained(model_path)"},
    "q1b_honest_weights_fixed_losses": {"1.7": "train losses recorded", "1.8": "validation losses recorded"},
    "q1b_patches_torch_readback": {"1.7": "weights differ", "1.8": "changed the weights"},
    "q1b_reinitialises_weights": {"1.7": "weights differ", "1.8": "changed the weights"},
    "q1b_split_made_up_rows": {"1.6": "not rows of the dataset"},
    "q1b_state_dict_zeros_log40": {"1.7": "did not change", "1.8": "validation losses recorded"},
    "q1b_zeroed_model_log40": {"1.7": "weights differ", "1.8": "changed the weights"},
}


def _runs(name: str) -> set[str]:
    """The checks that run the code a forgery edits."""
    if name.startswith("q1a_"):
        return {"1.1", "1.2", "1.3", "1.4"}
    return {"1.6"} if name == "q1b_split_made_up_rows" else {"1.7", "1.8"}


def _q1_forgeries() -> list[str]:
    return [name for name in mutant_names(REFERENCE, folder="forgeries") if name.startswith("q1")]


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-gsds-q1-forgeries-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_assignment(PROJECT_ROOT / "test_suites", "gsds-a4")


def test_the_forgery_list_matches_the_files() -> None:
    assert sorted(TARGETS) == _q1_forgeries()
    for name, targets in TARGETS.items():
        assert set(mutant_spec(name, REFERENCE, folder="forgeries")["targets"]) == targets, name


def test_targets_are_checks_the_forgery_reaches() -> None:
    assert all(targets <= _runs(name) for name, targets in TARGETS.items())


@pytest.mark.parametrize("names", pack_disjoint(sorted(TARGETS), _runs), ids="+".join)
def test_forgeries_gain_nothing_on_their_targets(names: tuple[str, ...], suite: Suite, workspace: Path) -> None:
    targets = set().union(*(TARGETS[n] for n in names))
    subset = dataclasses.replace(suite, checks=tuple(c for c in suite.checks if c.number in targets))
    submission = apply_mutants(names, workspace / names[0], REFERENCE, folder="forgeries")
    report = grade(subset, submission, settings_for(workspace / "var"))
    by_number = {t.number: t for t in report.tests}
    assert set(by_number) == targets
    # "failed", not "error": a crash of the grader's own check would score 0 without testing anything.
    assert all(t.score == 0 and t.result == "failed" for t in report.tests), {
        t.number: (t.result, t.output[:300], t.staff_output[-300:]) for t in report.tests
    }
    for name in names:
        for number, phrase in PHRASES.get(name, {}).items():
            assert phrase in by_number[number].output, (name, by_number[number].output)
