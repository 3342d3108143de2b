"""CSC413 A3 on older editions and its messages (issue 21 classes 3 and 8), with submissions of our own.

A "2022" submission is the reference with the 2023-only definitions renamed away (decoder-only model,
training tensors, IsoFLOP fits) and the 2022 GRU cell added: the report names the edition once (on
check 2.1.1.1), each missing part fails in one line, and no check repeats the skipped-cell list. A 2023
notebook keeps the plain "does not define" message, also without that list, and failure messages say
in which cell the graded definition is.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from grader.config import PROJECT_ROOT
from grader.engine.notebooks import ingest_notebooks
from grader.engine.runner import grade
from grader.engine.suites import Suite, load_assignment
from tests.suites.test_csc413_a3 import apply_notebook_mutant, copy_reference, only
from tests.utils.builders import settings_for, traversable_dir

REFERENCE = PROJECT_ROOT / "reference_solutions" / "csc413_a3"
GRU_CELL = "class MyGRUCell(nn.Module):\n    def __init__(self, input_size, hidden_size):\n        super().__init__()\n"
#: the 2023-only names, renamed so that the notebook defines none of them (the alias needs loss_seq_span)
RENAMED = {
    "generate_tensors_for_training_decoder_nmt": "make_batch",
    "find_optimal_params": "isoflop_vertex",
    "fit_linear_log": "line_fit",
    "loss_seq_span": "span",
}


def as_2022_notebook(root: Path) -> Path:
    """The reference's nmt.ipynb turned into our stand-in for the 2022 edition (GRU part, no 2.2/2.3)."""
    path = root / "nmt.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            for old, new in RENAMED.items():
                cell.source = cell.source.replace(old, new)
    at = next(i for i, c in enumerate(nb.cells) if "class ScaledDotAttention" in c.source)
    nb.cells.insert(at, nbformat.v4.new_code_cell(GRU_CELL))
    nbformat.write(nb, path)
    return root


@pytest.fixture(scope="module")
def editions(suite: Suite) -> object:
    return sys.modules["grader_suite_csc413_a3.editions"]


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_assignment(PROJECT_ROOT / "test_suites", "csc413-a3")


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = traversable_dir("grader-test-csc413-ed-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def ingested(root: Path, suite: Suite) -> Path:
    ingest_notebooks(root, suite.manifest.notebooks)
    return root


def test_edition_is_read_from_the_grader_written_modules(tmp_path: Path, suite: Suite, editions: object) -> None:
    current = ingested(copy_reference(tmp_path / "current"), suite)
    older = ingested(as_2022_notebook(copy_reference(tmp_path / "older")), suite)
    ed: object = editions
    assert ed.older_edition(current) is None and ed.edition_note(current) == ""  # type: ignore[attr-defined]
    edition = ed.older_edition(older)  # type: ignore[attr-defined]
    assert edition.year == "2022" and [p.number for p in edition.missing] == ["2.2", "2.3"]
    note = ed.edition_note(older)  # type: ignore[attr-defined]
    assert "looks like the 2022 notebook (it defines MyGRUCell, cell" in note
    assert "Parts 2.2 (decoder-only NMT) and 2.3 (IsoFLOP scaling fits) are from the 2023 notebook" in note
    assert "part 2.3 (IsoFLOP scaling fits) is from the 2023 notebook" in ed.missing_message(
        older, "nmt_nb", "fit_linear_log"
    )  # type: ignore[attr-defined]
    assert ed.missing_message(older, "nmt_nb", "ScaledDotAttention") == ""  # type: ignore[attr-defined]
    assert ed.missing_message(current, "nmt_nb", "fit_linear_log") == ""  # type: ignore[attr-defined]
    cell = next(
        i for i, c in enumerate(nbformat.read(current / "nmt.ipynb", 4).cells, 1) if "def fit_linear_log" in c.source
    )
    assert ed.located(current, "nmt_nb", "fit_linear_log") == f" (nmt.ipynb, cell {cell})"  # type: ignore[attr-defined]
    assert ed.located(current, "nmt_nb", "no_such_name") == ""  # type: ignore[attr-defined]
    (tmp_path / "none").mkdir()
    assert ed.defined_cells(tmp_path / "none", "nmt_nb") == {}  # type: ignore[attr-defined]


@pytest.mark.bwrap
@pytest.mark.slow
def test_older_edition_is_named_once_and_missing_parts_fail_in_one_line(workspace: Path, suite: Suite) -> None:
    submission = as_2022_notebook(copy_reference(workspace / "ed2022"))
    report = grade(
        only(suite, {"nmt.ipynb"}, {"2.1.1.1", "2.2.1", "2.3.3"}), submission, settings_for(workspace / "var")
    )
    results = {t.number: t for t in report.tests}
    assert results["2.1.1.1"].result == "passed"
    assert "looks like the 2022 notebook" in results["2.1.1.1"].output
    for number, name, part in (
        ("2.2.1", "generate_tensors_for_training_decoder_nmt", "2.2"),
        ("2.3.3", "fit_linear_log", "2.3"),
    ):
        out = results[number].output
        assert results[number].result == "failed" and out.startswith(f"nmt.ipynb does not define {name}: part {part}")
        assert "skipped these cells" not in out and "2022 notebook" not in out and "2022 edition" in out
    assert sum("2022 notebook" in t.output for t in report.tests) == 1


@pytest.mark.bwrap
@pytest.mark.slow
def test_current_edition_messages_name_the_cell_and_drop_the_skipped_list(workspace: Path, suite: Suite) -> None:
    submission, _ = apply_notebook_mutant("fit_natural_log", workspace / "cur")
    nb = nbformat.read(submission / "nmt.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace("def generate_tensors_for_training_decoder_nmt", "def make_batch")
    nbformat.write(nb, submission / "nmt.ipynb")
    cell = next(i for i, c in enumerate(nb.cells, 1) if "def fit_linear_log" in c.source)
    report = grade(
        only(suite, {"nmt.ipynb"}, {"2.1.1.1", "2.2.1", "2.3.3"}), submission, settings_for(workspace / "var")
    )
    results = {t.number: t for t in report.tests}
    assert results["2.1.1.1"].result == "passed" and "notebook (it defines" not in results["2.1.1.1"].output
    missing = results["2.2.1"].output
    assert "does not define generate_tensors_for_training_decoder_nmt" in missing
    assert "skipped these cells" not in missing and "the report's notes list the cells the grader skipped" in missing
    assert f"fit_linear_log (nmt.ipynb, cell {cell}) is in natural-log units" in results["2.3.3"].output


def test_a_missing_notebook_names_its_likely_renames(tmp_path: Path, editions: object) -> None:
    """Class 7: a renamed copy is named with what to do; other notebooks are listed as possible renames."""
    advice = editions.candidates_advice  # type: ignore[attr-defined]
    (tmp_path / "bert.ipynb").write_text("{}")
    assert advice(tmp_path, "nmt.ipynb") == ""
    (tmp_path / "A3").mkdir()
    (tmp_path / "A3" / "nmt (1).ipynb").write_text("{}")
    (tmp_path / "PA03.ipynb").write_text("{}")
    assert advice(tmp_path, "nmt.ipynb") == (
        " Found A3/nmt (1).ipynb: if it is this notebook, name it nmt.ipynb, at the top level of the submission."
    )
    assert advice(tmp_path, "clip.ipynb") == (
        " The submission has other notebooks (A3/nmt (1).ipynb, PA03.ipynb): if one of them is this one, name it clip.ipynb."
    )
