"""Static reading of the notebook on the trusted side (never run): style warnings that cost no points."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from grader.authoring import (
    NOTEBOOK_CAPS,
    CapExceeded,
    ConfinedCrash,
    NotebookError,
    plan_cell,
    read_notebook,
    run_confined,
)

_LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)


def python_loops(notebook: Path, class_name: str, method: str = "forward") -> list[tuple[int, int]]:
    """(cell, line) of each loop or comprehension in the last definition of ``class_name.method``.

    The notebook is the student's: it is read in a child process under the notebook caps, like ingestion.
    """
    try:
        records = run_confined(_loops, notebook, class_name, method, caps=NOTEBOOK_CAPS).records
    except (CapExceeded, ConfinedCrash):
        return []  # a note only: the checks that import the notebook report why it cannot be read
    return [(int(cell), int(line)) for cell, line in records]


def _loops(notebook: Path, class_name: str, method: str) -> Iterator[tuple[int, int]]:
    try:
        cells = read_notebook(notebook, notebook.name, 32 * 1024 * 1024)
    except NotebookError:
        return
    found: list[tuple[int, int]] = []
    for number, source in cells:
        for stmt in plan_cell(number, source).kept:
            if class_name not in stmt.defines:
                continue
            cls = next(n for n in stmt.parse().body if isinstance(n, ast.ClassDef))
            func = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == method), None)
            found = [(number, n.lineno) for n in ast.walk(func) if isinstance(n, _LOOPS)] if func else []
    yield from found


def loop_note(files: Path, class_name: str) -> str:
    """A note for the student when ``class_name.forward`` loops in Python (spec: batched products, no loops)."""
    loops = python_loops(files / "nmt.ipynb", class_name)
    if not loops:
        return ""
    where = ", ".join(f"cell {c} line {line}" for c, line in loops[:3])
    return (
        f"{class_name}.forward loops in Python ({where}); the handout asks for batched matrix products "
        "(torch.bmm or @) over the whole batch. Not penalised here."
    )
