"""CSC413 A3 against forging submissions (issue 20): notebooks that do no real work gain 0 on the checks they target.

Each forgery (``reference_solutions/csc413_a3/forgeries/*.toml``: the mutants' format plus ``targets``)
edits the reference notebooks' code cells. Forgeries whose targets are disjoint, and that cannot disturb
each other's targets (a forged causal attention also feeds the decoder-only model), share one grading,
and a grading runs only the targeted checks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import Suite, load_assignment
from tests.suites.test_csc413_a3 import copy_reference, only
from tests.utils.builders import mutant_names, pack_disjoint, settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

REFERENCE = PROJECT_ROOT / "reference_solutions" / "csc413_a3"
DECODER = {"2.2.2.1", "2.2.2.2", "2.2.2.3"}

#: every forgery, with the class of attack it stands for (the toml says how)
FORGERIES = {
    "attention_zero_uniform": "issue 20 class 1: zero Q/K/V, zero context, uniform or tril weights",
    "attention_ignores_loaded_weights": "overrides load_state_dict and _load_from_state_dict",
    "attention_reinit_in_forward": "re-draws its weights in forward",
    "attention_copies_input": "copy of the input; weight-blind uniform causal average",
    "decoder_skips_attention": "zero attention and a decoder body that leaves it out",
    "decoder_zero_output": "constant output of the right shapes, loading disabled",
    "isoflop_answer_table": "a table of the fixed cases' answers",
    "bert_head_zero": "zero classifier, constant logits",
    "bert_head_memorises": "memorises labels from the labels argument and from gradients",
}


def spec(name: str) -> dict[str, Any]:
    return tomllib.loads((REFERENCE / "forgeries" / f"{name}.toml").read_text(encoding="utf-8"))


def targets(name: str) -> set[str]:
    return set(spec(name)["targets"])


def disturbed(name: str) -> set[str]:
    """The checks a forgery targets or can change: a forged causal attention runs inside the decoder-only model."""
    found = targets(name)
    return found | DECODER if any(t.startswith("2.1.2") for t in found) else found


def apply_forgery(name: str, root: Path) -> None:
    """Apply a forgery's exact-once replacements to the code cells of the notebooks it names."""
    forgery = spec(name)
    for edit in forgery["replace"]:
        path = root / edit.get("file", forgery["file"])
        nb = nbformat.read(path, as_version=4)
        hits = [c for c in nb.cells if c.cell_type == "code" for _ in range(c.source.count(edit["old"]))]
        assert len(hits) == 1, f"forgery {name}: the text to replace occurs {len(hits)} times in {path.name}"
        hits[0].source = hits[0].source.replace(edit["old"], edit["new"])
        nbformat.write(nb, path)


BATCHES = pack_disjoint(sorted(FORGERIES), disturbed)


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    import shutil

    root = traversable_dir("grader-test-csc413-forgeries-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_assignment(PROJECT_ROOT / "test_suites", "csc413-a3")


def test_every_forgery_is_listed_and_well_formed() -> None:
    assert sorted(FORGERIES) == mutant_names(REFERENCE, folder="forgeries")
    numbers = {c.number for c in load_assignment(PROJECT_ROOT / "test_suites", "csc413-a3").checks}
    for name in FORGERIES:
        forgery = spec(name)
        assert forgery["description"] and forgery["bug_class"].startswith("forgery")
        assert targets(name) and targets(name) <= numbers, name


@pytest.mark.parametrize("batch", BATCHES, ids=["+".join(b) for b in BATCHES])
def test_forgeries_gain_nothing_on_their_targets(batch: tuple[str, ...], workspace: Path, suite: Suite) -> None:
    submission = copy_reference(workspace / "+".join(batch))
    for name in batch:
        apply_forgery(name, submission)
    wanted = set().union(*(targets(n) for n in batch))
    report = grade(only(suite, {"nmt.ipynb", "bert.ipynb"}, wanted), submission, settings_for(workspace / "var"))
    graded = {t.number: t for t in report.tests}
    assert set(graded) == wanted
    gained = {n: (t.score, t.output[:300]) for n, t in graded.items() if t.score != 0 or t.result == "passed"}
    assert not gained, gained
    for t in graded.values():  # each one fails for what it checks, not because the forgery crashed the sandbox
        assert "Traceback (your code)" not in t.output, (t.number, t.output[:500])
