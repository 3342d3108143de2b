"""CSC413 A3 suite against our reference notebooks (full marks where gradable) and mutants (each loses exactly its checks).

The mutants are graded by ``grader suite verify`` (grader.engine.verify): every check of the suite runs,
and mutants of notebooks whose checks are disjoint (reference_solutions/csc413_a3/verify.toml's
``[reach]``) share one grading. What each must lose and what its message must say (why, in the student's
terms) are in its toml.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import Suite, load_assignment
from grader.models.report import GradeReport
from tests.utils import builders
from tests.utils.builders import SHARED_ENVS, settings_for, traversable_dir

pytestmark = [pytest.mark.bwrap, pytest.mark.slow]

REFERENCE = PROJECT_ROOT / "reference_solutions" / "csc413_a3"
GATED = {"3.2", "4.2.2"}  # need the operator's model cache (and, for 4.2.2, the target class's images)


def copy_reference(dest: Path) -> Path:
    return builders.copy_reference(REFERENCE, dest)


def apply_notebook_mutant(name: str, dest: Path) -> tuple[Path, str]:
    """Copy the reference and apply the mutant's exact-once replacements to its notebook's code cells."""
    spec = tomllib.loads((REFERENCE / "mutants" / f"{name}.toml").read_text(encoding="utf-8"))
    copy_reference(dest)
    path = dest / spec["file"]
    nb = nbformat.read(path, as_version=4)
    for edit in spec["replace"]:
        hits = [c for c in nb.cells if c.cell_type == "code" for _ in range(c.source.count(edit["old"]))]
        assert len(hits) == 1, f"mutant {name}: the text to replace occurs {len(hits)} times in {spec['file']}"
        hits[0].source = hits[0].source.replace(edit["old"], edit["new"])
    nbformat.write(nb, path)
    return dest, spec["file"]


def only(suite: Suite, notebooks: set[str], numbers: set[str] | None = None) -> Suite:
    """The suite restricted to the checks of some notebooks (and, optionally, to some numbers)."""
    keep = tuple(c for c in suite.checks if set(c.tags) & notebooks and (numbers is None or c.number in numbers))
    return dataclasses.replace(suite, checks=keep)


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-csc413-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_assignment(PROJECT_ROOT / "test_suites", "csc413-a3")


def test_reference_gets_full_marks_through_the_cli(workspace: Path) -> None:
    out = subprocess.run(
        [
            str(PROJECT_ROOT / ".venv" / "bin" / "grader"),
            "grade",
            str(REFERENCE),
            "--assignment",
            "csc413-a3",
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
    by_number = {t.number: t for t in report.tests}
    runnable = [t for t in report.tests if t.number not in GATED]
    assert all(t.result == "passed" for t in runnable), {
        t.number: t.output[:300] for t in runnable if t.result != "passed"
    }
    for number in GATED:  # pending for staff: never passed, never a silent zero
        assert by_number[number].result == "not_run"
        assert "not gradable on this worker: needs model cache" in by_number[number].output
    assert report.score == sum(t.max_score for t in runnable) == 32 and report.max_score == 40
    assert report.sandbox_secure and report.status == "graded"
    notes = " ".join(report.unpack_notes)
    assert "nmt.ipynb: read as module 'nmt_nb'" in notes and "cell magic `%%time`" in notes and "`!pip install" in notes
    assert json.loads((workspace / "report.json").read_text())["score"] == 32


@pytest.mark.parametrize("names", builders.verify_packs("csc413_a3", "mutant"), ids="+".join)
def test_mutants_lose_exactly_their_checks(names: tuple[str, ...], workspace: Path) -> None:
    builders.assert_verified("csc413_a3", "mutant", names, workspace / "var")


def test_broken_notebooks_fail_only_their_own_checks(workspace: Path, suite: Suite) -> None:
    """Bad JSON in bert.ipynb and a cell of clip.ipynb raising at definition time: everything else is graded."""
    submission = copy_reference(workspace / "broken")
    (submission / "bert.ipynb").write_text('{"cells": [\n  {"cell_type": "code",, }]}')
    nb = nbformat.read(submission / "clip.ipynb", as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell("class Broken:\n    value = undefined_name\n"))
    nbformat.write(nb, submission / "clip.ipynb")
    picked = only(
        suite, {"nmt.ipynb", "bert.ipynb", "clip.ipynb"}, {"2.1.1.1", "2.2.1", "2.3.3", "3.1.1", "3.1.4", "4.2.1"}
    )
    report = grade(picked, submission, settings_for(workspace / "var"))
    results = {t.number: t for t in report.tests}
    assert {n for n, t in results.items() if t.result == "passed"} == {"2.1.1.1", "2.2.1", "2.3.3", "4.2.1"}
    for number in ("3.1.1", "3.1.4"):
        assert "bert.ipynb is not valid notebook JSON: Expecting property name" in results[number].output
    assert any(
        n.startswith("bert.ipynb: not graded, bert.ipynb is not valid notebook JSON") for n in report.unpack_notes
    )


def test_python_loops_in_attention_are_noted_not_penalised(workspace: Path, suite: Suite) -> None:
    """The static reading (trusted side, nothing run) finds a loop over the batch in forward."""
    import sys

    static = sys.modules["grader_suite_csc413_a3.static"]
    submission = copy_reference(workspace / "loops")
    nb = nbformat.read(submission / "nmt.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "class ScaledDotAttention" in c.source)
    cell.source = cell.source.replace(
        "context = torch.bmm(attention_weights, v)\n",
        "context = torch.stack([attention_weights[b] @ v[b] for b in range(batch_size)])\n",
    )
    nbformat.write(nb, submission / "nmt.ipynb")
    assert static.python_loops(REFERENCE / "nmt.ipynb", "ScaledDotAttention") == []
    assert "ScaledDotAttention.forward loops in Python (cell" in static.loop_note(submission, "ScaledDotAttention")
    assert static.loop_note(submission, "CausalScaledDotAttention") == ""
