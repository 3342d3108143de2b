"""Notebook ingestion: definitions kept, everything else skipped with a reason, unreadable notebooks explained."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from grader.engine.notebooks import ingest_notebook, ingest_notebooks, read_notebook
from grader.engine.notebooks_cells import plan_cell
from grader.models.manifest import SuiteManifest
from grader.models.notebooks import NotebookAlias, NotebookSpec
from tests.utils.modules import Loader, modules_from


def notebook(*cells: str, markdown_first: bool = True) -> str:
    nb = nbformat.v4.new_notebook()
    if markdown_first:
        nb.cells.append(nbformat.v4.new_markdown_cell("# Part 1"))
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    return nbformat.writes(nb)


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Loader]:
    with modules_from(tmp_path) as loader:
        yield loader


def test_plan_keeps_definitions_and_says_why_the_rest_is_skipped() -> None:
    plan = plan_cell(
        3,
        "!pip install x\n%matplotlib inline\nimport math\nN = 2 ** 10\nmodel = build()\ntrain(model)\n"
        "for i in range(3):\n    print(i)\n@decorate\ndef f(a, b):\n    return a\n",
    )
    assert [s.defines for s in plan.kept] == [("math",), ("N",), ("f",)]
    assert plan.kept[2].first_line == 9 and plan.kept[2].source.startswith("@decorate")
    assert plan.kept[2].params == ("a", "b")
    assert any("shell command `!pip install x`" in r for r in plan.skipped)
    assert any("line 5 `model = build()`" in r and "2 more" in r for r in plan.skipped)
    assert "model" in plan.skipped_names


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("%%time\ntrain()\n", "cell magic `%%time`"),
        ("def f(:\n    pass\n", "syntax error at line 1"),
        ("files = !ls\n", "shell command"),
        ("if True:\n    class A: pass\n", "a top-level `if` statement"),
    ],
)
def test_whole_cells_skipped(source: str, reason: str) -> None:
    plan = plan_cell(1, source)
    assert not plan.kept and any(reason in r for r in plan.skipped), plan.skipped


def test_percent_continuation_lines_are_python_not_magics() -> None:
    plan = plan_cell(1, "MSG = ('loss %f'\n       % 3.0)\n")
    assert [s.defines for s in plan.kept] == [("MSG",)] and not plan.skipped


def test_module_runs_definitions_with_cell_line_numbers(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "hw.ipynb").write_text(
        notebook(
            "import math\nSCALE = 3",
            "def area(r):\n    return SCALE * math.pi * r * r\n\narea(2)\nraise SystemExit('training')",
            "def boom():\n    return 1 / 0",
        )
    )
    note = ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"))
    assert "kept the definitions of 3 of 3 code cell(s)" in note and "cell 3: line 4 `area(2)`" in note
    hw = load("hw")
    assert hw.area(1) == pytest.approx(3 * 3.141592653589793)
    with pytest.raises(ZeroDivisionError) as info:
        hw.boom()
    assert (
        info.traceback[-1].frame.code.raw.co_filename == str(tmp_path / "hw.ipynb, cell 4")
        and info.traceback[-1].lineno + 1 == 2
    )
    assert "return 1 / 0" in "".join(traceback.format_tb(info.value.__traceback__)[-1:])  # the cell's own line


def test_a_cell_raising_at_definition_time_spares_the_rest(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "hw.ipynb").write_text(
        notebook(
            "from google.colab import drive",
            "class Model:\n    size = undefined_name\n",
            "def ok():\n    return 42",
        )
    )
    ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"))
    hw = load("hw")
    assert hw.ok() == 42
    assert any("cell 2, line 1: ModuleNotFoundError" in e for e in hw._notebook_errors)
    with pytest.raises(AttributeError, match=r"defines Model in cell 3, but .*NameError: name 'undefined_name'"):
        _ = hw.Model
    with pytest.raises(AttributeError, match="does not define Missing"):
        _ = hw.Missing


def test_alias_picks_the_last_definition_with_the_wanted_parameters(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "nmt.ipynb").write_text(
        notebook(
            "class TransformerDecoder:\n    def __init__(self, vocab_size, hidden_size, num_layers):\n        self.kind = 'enc-dec'",
            "class TransformerDecoder:\n    def __init__(self, vocab_size, hidden_size, num_layers, loss_seq_span):\n"
            "        self.kind = 'decoder-only'",
            "class TransformerDecoder:\n    def __init__(self, vocab_size, hidden_size, num_layers):\n        self.kind = 'late'",
        )
    )
    alias = NotebookAlias(name="DecoderOnlyTransformer", accept=["TransformerDecoder"], params=["loss_seq_span"])
    ingest_notebook(tmp_path, NotebookSpec(path="nmt.ipynb", module="nmt", aliases=[alias]))
    nmt = load("nmt")
    assert nmt.DecoderOnlyTransformer(30, 8, 1, 5).kind == "decoder-only"
    assert nmt.TransformerDecoder(30, 8, 1).kind == "late"


def test_missing_alias_is_explained(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "nmt.ipynb").write_text(notebook("class TransformerDecoder:\n    def __init__(self, a):\n        pass"))
    alias = NotebookAlias(name="DecoderOnlyTransformer", accept=["TransformerDecoder"], params=["loss_seq_span"])
    ingest_notebook(tmp_path, NotebookSpec(path="nmt.ipynb", module="nmt", aliases=[alias]))
    with pytest.raises(
        AttributeError, match=r"DecoderOnlyTransformer or TransformerDecoder with parameters \(loss_seq_span\)"
    ):
        _ = load("nmt").DecoderOnlyTransformer


def test_definition_in_a_skipped_cell_is_named(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "clip.ipynb").write_text(notebook("%%capture\ncaption = 'a lake'", "def f():\n    pass"))
    ingest_notebook(tmp_path, NotebookSpec(path="clip.ipynb", module="clip_nb"))
    with pytest.raises(AttributeError, match=r"caption only in code the grader does not run \(cell 2: cell magic"):
        _ = load("clip_nb").caption


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "hw.ipynb is not in the submission"),
        (b'{"cells": [,]}', "not valid notebook JSON: Expecting value at line 1, column 12"),
        (b"\xff\xfe junk", "not UTF-8 text"),
        (json.dumps({"cells": [], "nbformat": 5, "nbformat_minor": 0, "metadata": {}}).encode(), "has nbformat 5"),
        (json.dumps({"cells": []}).encode(), "has nbformat None"),
        (
            b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": 3}]}',
            "malformed notebook",
        ),
        (b" " * 2048 + b"{}", "is 2050 bytes, over the 1024 bytes the grader reads"),
    ],
)
def test_unreadable_notebooks_become_modules_that_say_why(
    tmp_path: Path, load, content: bytes | None, message: str
) -> None:  # type: ignore[no-untyped-def]
    if content is not None:
        (tmp_path / "hw.ipynb").write_bytes(content)
    note = ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw", max_bytes=1024))
    assert note.startswith("hw.ipynb: not graded") and message in note, note
    with pytest.raises(ImportError, match="hw.ipynb"):
        load("hw")


def test_huge_outputs_under_the_limit_are_ignored(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    nb = nbformat.reads(notebook("X = 1\nplot()"), as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "A" * 3_000_000})]
    (tmp_path / "hw.ipynb").write_text(nbformat.writes(nb))
    assert (
        "kept the definitions of 1 of 1" in ingest_notebooks(tmp_path, [NotebookSpec(path="hw.ipynb", module="hw")])[0]
    )
    assert load("hw").X == 1


def test_a_student_file_with_the_module_name_is_replaced_and_said(tmp_path: Path) -> None:
    (tmp_path / "hw.ipynb").write_text(notebook("X = 1"))
    (tmp_path / "hw.py").write_text("X = 99\n")
    assert "hw.py in the submission was replaced" in ingest_notebook(
        tmp_path, NotebookSpec(path="hw.ipynb", module="hw")
    )
    assert "X = 99" not in (tmp_path / "hw.py").read_text()


def test_manifest_declares_notebooks() -> None:
    manifest = SuiteManifest.model_validate(
        {
            "id": "nb",
            "title": "t",
            "notebooks": [
                {"path": "nmt.ipynb", "module": "nmt", "aliases": [{"name": "D", "accept": ["T"], "params": ["p"]}]}
            ],
        }
    )
    assert manifest.notebooks[0].aliases[0].accept == ["T"]
    with pytest.raises(ValueError):
        SuiteManifest.model_validate(
            {"id": "nb", "title": "t", "notebooks": [{"path": "a.ipynb", "module": "not-a-name"}]}
        )


def test_a_folder_in_the_way_is_reported_not_crashed_on(tmp_path: Path) -> None:
    (tmp_path / "hw.ipynb").write_text(notebook("X = 1"))
    (tmp_path / "hw.py").mkdir()
    assert "has a folder named hw.py" in ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"))


def test_unprintable_characters_do_not_reach_the_notes() -> None:
    plan = plan_cell(1, "print('\x1b[31mred')\n")
    assert plan.skipped and "\x1b" not in plan.skipped[0] and "?[31mred" in plan.skipped[0]


def test_a_json_nesting_bomb_is_refused_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "hw.ipynb").write_bytes(b'{"cells": ' + b"[" * 50_000 + b"]" * 50_000 + b', "nbformat": 4}')
    assert "nests its JSON far too deeply" in ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"))


def test_an_old_notebook_without_cell_ids_is_read_whatever_the_warnings_filter(tmp_path: Path) -> None:
    """nbformat < 4.5 cells have no ids; nbformat warns, and pytest here turns warnings into errors."""
    raw = {
        "nbformat": 4,
        "nbformat_minor": 2,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": ["def f():\n", "    return 1\n"],
                "outputs": [],
                "execution_count": None,
            }
        ],
    }
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(raw))
    assert read_notebook(path, "old.ipynb", 1 << 20) == [(1, "def f():\n    return 1\n")]
