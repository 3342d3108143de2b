"""Notebook ingestion is linear in the notebook's size and runs under memory, time and output caps.

The cases of issue 20 (class 7): one cell of 20 000 one-line statements used to make a 383 MB module
and take the worker to 1.4 GiB; a 10 MB notebook of them exhausted the host's memory. Each is
ingested here the way the worker does it (one confined child for the notebooks), with the figures
the child reports checked against the caps.
"""

from __future__ import annotations

import json
import resource
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.engine import notebooks
from grader.engine.confined import Caps, run_confined
from grader.engine.notebooks import NOTEBOOK_CAPS, ingest_notebook, ingest_notebooks
from grader.engine.notebooks_cells import MAX_CELL_CHARS
from grader.models.notebooks import NotebookSpec
from tests.utils.modules import Loader, modules_from

_MIB = 1024 * 1024


def write_notebook(path: Path, *sources: str | list[str]) -> int:
    """A compact nbformat-4 notebook with one code cell per source; returns its size in bytes."""
    cells = [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [], "source": s}
        for i, s in enumerate(sources)
    ]
    raw = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()
    path.write_bytes(raw)
    return len(raw)


def one_liners(n: int) -> str:
    return "x=1\n" * n


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Loader]:
    with modules_from(tmp_path) as loader:
        yield loader


def ingest_measured(root: Path, spec: NotebookSpec, caps: Caps = NOTEBOOK_CAPS) -> tuple[str, int, float]:
    """Ingest as ingest_notebooks does (the same work in one confined child); (note, new memory, CPU s)."""
    outcome = run_confined(notebooks._ingest_all, root, [spec], caps=caps)
    note = next(r[1] for r in outcome.records if r[0] == "note")
    return note, outcome.max_rss_bytes - outcome.inherited_rss_bytes, outcome.cpu_seconds


def test_twenty_thousand_one_line_statements_make_a_linear_module(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    # The last statement is a function that raises: its traceback must still name its own cell line.
    size = write_notebook(tmp_path / "hw.ipynb", one_liners(20_000) + "def last():\n    return 1 / 0\n")
    note, new_memory, cpu = ingest_measured(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"))
    written = (tmp_path / "hw.py").stat().st_size
    assert "kept the definitions of 1 of 1 code cell(s)" in note
    assert written < 8 * size, (written, size)  # was 383 MB for a 135 KB notebook: now a few bytes per byte
    assert new_memory < 128 * _MIB < NOTEBOOK_CAPS.memory_bytes, new_memory  # was 1.4 GiB
    assert cpu < NOTEBOOK_CAPS.cpu_seconds
    hw = load("hw")
    assert hw.x == 1 and not hw._notebook_errors
    with pytest.raises(ZeroDivisionError) as info:
        hw.last()
    frame = info.traceback[-1]
    assert frame.frame.code.raw.co_filename == str(tmp_path / "hw.ipynb, cell 1") and frame.lineno + 1 == 20_002
    assert "return 1 / 0" in "".join(traceback.format_tb(info.value.__traceback__)[-1:])


def test_the_module_grows_linearly_with_the_cell(tmp_path: Path) -> None:
    sizes = {}
    for n in (5_000, 20_000):
        root = tmp_path / str(n)
        root.mkdir()
        write_notebook(root / "hw.ipynb", one_liners(n))
        ingest_notebook(root, NotebookSpec(path="hw.ipynb", module="hw"))
        sizes[n] = (root / "hw.py").stat().st_size
    assert sizes[20_000] < 4.5 * sizes[5_000], sizes  # 4x the statements, 4x the bytes (it was 16x)


def test_a_ten_megabyte_notebook_is_read_within_the_caps(tmp_path: Path) -> None:
    """The notebook that set off the host's OOM killer: its one 10 MB cell is skipped unread, with a reason."""
    size = write_notebook(tmp_path / "hw.ipynb", "import math\n", one_liners(2_500_000), "def f():\n    return 2\n")
    assert size > 10_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    note, new_memory, cpu = ingest_measured(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"))
    assert "kept the definitions of 2 of 3 code cell(s)" in note, note
    assert "cell 2: 9.5 MiB of code, over the 1.0 MiB the grader reads in one cell" in note
    assert new_memory < NOTEBOOK_CAPS.memory_bytes and cpu < NOTEBOOK_CAPS.cpu_seconds, (new_memory, cpu)
    assert (tmp_path / "hw.py").stat().st_size < 10_000
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB: the worker did not grow
    # And through the public entry point, as the runner calls it:
    assert "over the 1.0 MiB" in ingest_notebooks(tmp_path, [NotebookSpec(path="hw.ipynb", module="hw")])[0]


@pytest.mark.slow  # ~4 s of CPU: 262 000 statements parsed
def test_the_densest_cell_under_the_cell_limit_is_read_within_the_caps(tmp_path: Path) -> None:
    write_notebook(tmp_path / "hw.ipynb", one_liners(MAX_CELL_CHARS // 4 - 10) + "LAST = 2\n")  # 262 134 statements
    note, new_memory, cpu = ingest_measured(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"))
    assert "kept the definitions of 1 of 1" in note
    assert new_memory < NOTEBOOK_CAPS.memory_bytes * 3 // 4 and cpu < NOTEBOOK_CAPS.cpu_seconds, (new_memory, cpu)
    assert "_notebook_run(1, 262135, 'LAST = 2')" in (tmp_path / "hw.py").read_text()


def _refused(note: str, module: str, root: Path, *phrases: str) -> None:
    assert note.startswith("hw.ipynb: not graded, hw.ipynb could not be read: reading it "), note
    for phrase in phrases:
        assert phrase in note, note
    assert "resubmit" in note
    source = (root / f"{module}.py").read_text()
    assert "raise ImportError" in source and "could not be read" in source


def test_past_the_memory_cap_the_notebook_is_refused_with_a_message(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    write_notebook(tmp_path / "hw.ipynb", ["x=1\n"] * 900_000)  # 8 MB of JSON: ~60 MiB once read
    caps = Caps(memory_bytes=16 * _MIB, cpu_seconds=30, wall_seconds=60, file_bytes=64 * _MIB)
    note = ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"), caps=caps)
    _refused(note, "hw", tmp_path, "more than the 16 MiB of memory the grader allows for reading one notebook")
    with pytest.raises(ImportError, match="16 MiB of memory"):
        load("hw")


def test_past_the_time_cap_the_notebook_is_refused_with_a_message(tmp_path: Path) -> None:
    cells = [one_liners(MAX_CELL_CHARS // 4 - 10)] * 8  # each ~1 s to parse: more than the 1 s cap
    write_notebook(tmp_path / "hw.ipynb", *cells)
    caps = Caps(memory_bytes=1024 * _MIB, cpu_seconds=1, wall_seconds=120, file_bytes=64 * _MIB)
    note = ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"), caps=caps)
    _refused(
        note,
        "hw",
        tmp_path,
        "took longer than the grader allows for reading one notebook (1 s of CPU time or 120 s in all)",
        "Its largest code cell, cell 1, holds 1024",
    )


def test_past_the_output_cap_the_notebook_is_refused_with_a_message(tmp_path: Path) -> None:
    write_notebook(tmp_path / "hw.ipynb", one_liners(20_000))  # a module of ~600 KB
    caps = Caps(memory_bytes=1024 * _MIB, cpu_seconds=30, wall_seconds=60, file_bytes=100 * 1024)
    note = ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"), caps=caps)
    _refused(note, "hw", tmp_path, "made more than the 100 KiB of code the grader allows for one notebook")


def test_a_notebook_past_a_cap_costs_only_its_own_checks(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    write_notebook(tmp_path / "big.ipynb", ["x=1\n"] * 900_000)
    write_notebook(tmp_path / "ok.ipynb", "def f():\n    return 7\n")
    caps = Caps(memory_bytes=16 * _MIB, cpu_seconds=30, wall_seconds=60, file_bytes=64 * _MIB)
    specs = [
        NotebookSpec(path="ok.ipynb", module="first"),
        NotebookSpec(path="big.ipynb", module="big"),
        NotebookSpec(path="ok.ipynb", module="after"),
    ]
    notes = ingest_notebooks(tmp_path, specs, caps=caps)
    assert notes[0].startswith("ok.ipynb: read as module 'first'") and notes[2].startswith(
        "ok.ipynb: read as module 'after'"
    )
    assert notes[1].startswith("big.ipynb: not graded, big.ipynb could not be read") and "16 MiB" in notes[1]
    assert load("first").f() == 7 and load("after").f() == 7
    with pytest.raises(ImportError, match="big.ipynb could not be read"):
        load("big")


def test_a_folder_where_a_refused_notebooks_module_goes_is_left_alone(tmp_path: Path) -> None:
    write_notebook(tmp_path / "hw.ipynb", ["x=1\n"] * 900_000)
    (tmp_path / "hw.py").mkdir()
    caps = Caps(memory_bytes=16 * _MIB, cpu_seconds=30, wall_seconds=60, file_bytes=64 * _MIB)
    assert "has a folder named hw.py" in ingest_notebook(
        tmp_path, NotebookSpec(path="hw.ipynb", module="hw"), caps=caps
    )
    assert (tmp_path / "hw.py").is_dir()


def test_no_notebooks_no_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("forked without a notebook to read")

    monkeypatch.setattr(notebooks, "run_confined", forbidden)
    assert ingest_notebooks(tmp_path, []) == []


def test_a_notebook_is_refused_only_for_what_it_needs_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caps are one child's: a notebook stopped after another used part of them is read again, alone."""
    real = notebooks.read_notebook
    seconds = {"a.ipynb": 1.0, "b.ipynb": 1.0, "slow.ipynb": 3.0}

    def slow_read(path: Path, label: str, max_bytes: int) -> list[tuple[int, str]]:
        time.sleep(seconds[label])
        return real(path, label, max_bytes)

    monkeypatch.setattr(notebooks, "read_notebook", slow_read)
    for name in seconds:
        write_notebook(tmp_path / name, "X = 1\n")
    caps = Caps(memory_bytes=256 * _MIB, cpu_seconds=30, wall_seconds=1.6, file_bytes=_MIB)
    specs = [NotebookSpec(path=n, module=n.split(".")[0]) for n in seconds]
    notes = ingest_notebooks(tmp_path, specs, caps=caps)
    assert notes[0].startswith("a.ipynb: read as module") and notes[1].startswith("b.ipynb: read as module"), notes
    assert notes[2].startswith("slow.ipynb: not graded, slow.ipynb could not be read: reading it took longer"), notes


def test_running_out_of_memory_in_nbformat_is_the_cap_not_a_malformed_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where memory runs out (json or nbformat) must not change the message: nbformat's errors are
    caught broadly as "malformed", MemoryError is not one of them."""

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(notebooks.nbformat, "reads", exhausted)
    write_notebook(tmp_path / "hw.ipynb", "X = 1\n")
    note = ingest_notebook(tmp_path, NotebookSpec(path="hw.ipynb", module="hw"))
    _refused(note, "hw", tmp_path, "more than the 1 GiB of memory the grader allows for reading one notebook")
