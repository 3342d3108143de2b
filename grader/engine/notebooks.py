"""Notebook submissions: turn a student's ``.ipynb`` into an importable module of its definitions.

Usage (suite authors; nothing in ``grader/`` changes per assignment). Declare each notebook in
``suite.toml`` and put ``"."`` on ``python_path``::

    python_path = ["."]

    [[notebooks]]
    path = "nmt.ipynb"        # where the notebook is in the (unpacked) submission
    module = "nmt"            # the module written next to it, imported as student.module("nmt")

    [[notebooks.aliases]]     # optional: names students rename across years
    name = "DecoderOnlyTransformer"   # the name checks use
    accept = ["TransformerDecoder"]   # other names accepted for it
    params = ["loss_seq_span"]        # a definition counts only if its signature (a class: its
                                      # __init__) has these parameters; the last one that does wins

Before the sandbox starts, :func:`ingest_notebooks` reads each notebook on the trusted side with
``nbformat`` and :mod:`ast` (nothing is executed here), keeps the top-level definitions (imports,
functions, classes, constants), drops training loops, downloads, shell escapes (``!cmd``) and magics
(``%``, ``%%``), and writes ``<module>.py`` at the submission root. The returned notes (one per
notebook: which cells were skipped and why) go to the report's ``unpack_notes``.

The reading runs in one child process for all of a submission's notebooks, under the caps of
:data:`NOTEBOOK_CAPS` (:mod:`grader.engine.confined`): a notebook that needs more memory, CPU time or
output than they allow is not graded, with a message that names the cap and its largest code cell,
and the worker is unharmed. The module is linear in the notebook's size: each kept statement is
written once, with the cell line it starts on, and renumbered when it runs (never padded with
newlines up to its line, which made a 135 KB notebook of 20 000 one-line statements 383 MB).

Inside the sandbox the module runs each kept statement on its own, with the notebook's file name and
cell line numbers in tracebacks (``File "nmt.ipynb, cell 12", line 4``). A statement that raises at
definition time is recorded and the rest still load. With ``defer_imports = true``, an import no kept
statement names (bert.ipynb's pandas and scikit-learn, there for skipped data cells) runs when a check
first reads a name it binds (:mod:`grader.engine.notebooks_imports`), and its errors are recorded then. Reading a name the notebook does not define
raises an ``AttributeError`` that says why (not in the notebook, in a skipped cell, or its cell
raised, with the error). A notebook that cannot be read at all (missing, bad JSON, unsupported
nbformat, over the size limit) still gets a module: importing it raises ``ImportError`` with the
precise reason, so only the checks of that notebook fail and every other check runs. Checks can read
``module._notebook_errors`` (a list of strings) to report definition-time errors themselves.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import nbformat

from grader.engine.confined import CapExceeded, Caps, human_bytes, run_confined
from grader.engine.notebooks_cells import CellPlan, plan_cell
from grader.engine.notebooks_imports import deferred_imports
from grader.models.notebooks import NotebookAlias, NotebookSpec

__all__ = [
    "NOTEBOOK_CAPS",
    "NotebookError",
    "build_module",
    "ingest_notebook",
    "ingest_notebooks",
    "read_notebook",
]

_MIB = 1024 * 1024
_MAX_LISTED = 25  # skipped cells named in one note; the rest are counted

# Reading all of one submission's notebooks (one child; a notebook past a cap is refused, the next one
# gets a fresh child). Honest notebooks use a few MiB and well under a second; a 32 MiB notebook of
# images ~400 MiB. Output: the biggest module a notebook under NotebookSpec.max_bytes can honestly make.
NOTEBOOK_CAPS = Caps(memory_bytes=1024 * _MIB, cpu_seconds=30, wall_seconds=60, file_bytes=64 * _MIB)


def _human(n: float) -> str:
    return f"{n:.0f} bytes" if n < _MIB else f"{n / _MIB:.1f} MiB"


class NotebookError(Exception):
    """The notebook cannot be read; the message is for the student."""


def read_notebook(path: Path, label: str, max_bytes: int) -> list[tuple[int, str]]:
    """``(cell number, source)`` of every code cell, in order; raises ``NotebookError`` saying what is wrong."""
    try:
        size = path.lstat().st_size
    except FileNotFoundError:
        raise NotebookError(f"{label} is not in the submission.") from None
    if not path.is_file() or path.is_symlink():
        raise NotebookError(f"{label} is not a regular file.")
    if size > max_bytes:
        raise NotebookError(
            f"{label} is {_human(size)}, over the {_human(max_bytes)} the grader reads "
            "(large outputs such as images or long logs?); clear the biggest outputs and resubmit."
        )
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{label} is not UTF-8 text (byte {exc.start}); is it really a Jupyter notebook?") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{label} is not valid notebook JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
            "Re-save it from Jupyter or Colab (File > Download > .ipynb)."
        ) from None
    except RecursionError:  # a JSON nesting bomb; a real notebook nests a few levels
        raise NotebookError(f"{label} nests its JSON far too deeply to be a Jupyter notebook.") from None
    version = data.get("nbformat") if isinstance(data, dict) else None
    if version not in (3, 4):
        raise NotebookError(
            f"{label} has nbformat {version!r}; the grader reads Jupyter notebooks in format 4 "
            "(what Jupyter and Colab save). Re-save it from Jupyter or Colab."
        )
    try:
        with warnings.catch_warnings():
            # Older notebooks lack cell ids (nbformat < 4.5); nbformat warns and adds them, which is fine
            # here: the grader reads the notebook the same way whatever the warnings filter says.
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)  # type: ignore[no-untyped-call]
        cells = list(notebook.cells)
    except MemoryError:
        raise  # not malformed: over the memory cap of the child reading it (ingest_notebooks says so)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many types on malformed structure
        raise NotebookError(f"{label} is a malformed notebook ({type(exc).__name__}: {str(exc)[:200]}).") from None
    found: list[tuple[int, str]] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if not isinstance(source, str):
            raise NotebookError(f"{label}: cell {number} has a source that is not text.")
        found.append((number, source))
    return found


def _alias_lines(plans: list[CellPlan], alias: NotebookAlias) -> tuple[int | None, str]:
    """(cell number after which to bind the alias, the name to bind from); None when no definition fits."""
    wanted = [alias.name, *alias.accept]
    chosen: tuple[int | None, str] = (None, "")
    for plan in plans:
        for stmt in plan.kept:
            for name in stmt.defines:
                if name in wanted and all(p in stmt.params for p in alias.params):
                    chosen = (plan.number, name)
    return chosen


def _describe_alias(alias: NotebookAlias) -> str:
    names = " or ".join([alias.name, *alias.accept])
    return f"{names} with parameters ({', '.join(alias.params)})" if alias.params else names


_PRELUDE = '''\
"""Generated by the grader from {label}: its definitions only; see the report's notes for skipped cells."""

_notebook_errors = []
_notebook_defined_in = {defined!r}
_notebook_skipped = {skipped!r}
_notebook_wanted = {wanted!r}
_notebook_skipped_names = {skipped_names!r}


# Next to this file, so tracebacks show the student's cells as their own code (not the grader's).
_notebook_path = __import__("os").path.join(__import__("os").path.dirname(__import__("os").path.abspath(__file__)), "{label}")


def _notebook_run(cell, line, source):
    name = _notebook_path + ", cell " + str(cell)
    # Tracebacks quote the cell's own lines (linecache would otherwise read this generated file).
    lines = __import__("linecache").cache.setdefault(name, (0, None, [], name))[2]
    for number, text in enumerate(source.splitlines(True), start=line - 1):
        lines.extend(["\\n"] * (number + 1 - len(lines)))
        lines[number] = text
    try:
        # The statement starts at ``line`` of its cell: renumbered here, so this file holds each statement once.
        tree = __import__("ast").increment_lineno(__import__("ast").parse(source, name), line - 1)
        exec(compile(tree, name, "exec"), globals())
    except (Exception, SystemExit) as exc:
        _notebook_errors.append(f"cell {{cell}}, line {{line}}: {{type(exc).__name__}}: {{exc}}")


_notebook_deferred = {{}}  # name -> the import that binds it, run when first read (grader/engine/notebooks_imports.py)


def _notebook_defer(cell, line, source, module, names):
    # Run now what the interpreter cannot find (to record why, as for any import) or what the submission
    # itself holds (imported for its side effects, perhaps); the rest waits until a name is read.
    here = __import__("os").path.dirname(_notebook_path)
    try:
        util = __import__("importlib.util").util
        parts = module.split(".")
        spec = util.find_spec(parts[0])  # a top-level name: found without importing it
        for depth in range(2, len(parts) + 1):
            if spec is None or spec.submodule_search_locations is None:
                spec = None
                break
            name = ".".join(parts[:depth])
            if name.rpartition(".")[0] in __import__("sys").modules:
                spec = util.find_spec(name)
            else:  # look in the parent package's folders without running its __init__
                spec = __import__("importlib.machinery").machinery.PathFinder.find_spec(
                    name, list(spec.submodule_search_locations))
        places = [] if spec is None else [spec.origin or "", *(spec.submodule_search_locations or [])]
        inside = [__import__("os").path.abspath(str(p)).startswith(here + __import__("os").sep) for p in places if p]
        waits = spec is not None and not any(inside)
    except Exception:
        waits = False
    if not waits:
        return _notebook_run(cell, line, source)
    for name in names:
        _notebook_deferred[name] = (cell, line, source)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    deferred = _notebook_deferred.get(name)
    if deferred is not None:
        for bound in [n for n, d in _notebook_deferred.items() if d == deferred]:
            del _notebook_deferred[bound]
        _notebook_run(*deferred)
        if name in globals():
            return globals()[name]
    where = _notebook_defined_in.get(name)
    if where is not None:
        errors = [e for e in _notebook_errors if e.startswith(f"cell {{where}},")]
        detail = f" ({{errors[0]}})" if errors else ""
        raise AttributeError(f"{label} defines {{name}} in cell {{where}}, but running that cell's definitions failed{{detail}}")
    looked = _notebook_wanted.get(name, name)
    if name in _notebook_skipped_names:
        cell, why = _notebook_skipped_names[name]
        raise AttributeError(f"{label} defines {{name}} only in code the grader does not run (cell {{cell}}: {{why}}); "
                             "define it at the top level of a cell, as in the handout")
    why = "; ".join(f"cell {{n}}: {{r}}" for n, r in _notebook_skipped)
    hint = f" The grader skipped these cells: {{why}}" if why else ""
    raise AttributeError(f"{label} does not define {{looked}} (at the top level of a code cell).{{hint}}")

'''


def build_module(
    label: str, cells: list[tuple[int, str]], aliases: list[NotebookAlias], *, defer_imports: bool = False
) -> tuple[str, list[CellPlan]]:
    """The Python source of the module, and the plan of every code cell."""
    plans = [plan_cell(number, source) for number, source in cells]
    defined = {name: plan.number for plan in plans for stmt in plan.kept for name in stmt.defines}
    bind_after: dict[int, list[str]] = {}
    for alias in aliases:
        cell, source_name = _alias_lines(plans, alias)
        if cell is not None and source_name != alias.name:
            bind_after.setdefault(cell, []).append(f"{alias.name} = {source_name}")
            defined.setdefault(alias.name, cell)
    skipped = [(p.number, r) for p in plans for r in p.skipped][:_MAX_LISTED]
    wanted = {a.name: _describe_alias(a) for a in aliases}
    skipped_names = {n: (p.number, r) for p in plans for n, r in p.skipped_names.items() if n not in defined}
    out = [
        _PRELUDE.format(
            label=label.replace('"', "'"), defined=defined, skipped=skipped, wanted=wanted, skipped_names=skipped_names
        )
    ]
    named = [name for a in aliases for name in (a.name, *a.accept)]
    deferred = deferred_imports(plans, named) if defer_imports else {}
    for plan in plans:
        for index, stmt in enumerate(plan.kept):  # the line it starts on, not padded up to it: linear in size
            call = f"{plan.number}, {stmt.first_line}, {stmt.source!r}"
            if wait := deferred.get((plan.number, index)):
                out.append(f"_notebook_defer({call}, {wait.module!r}, {wait.names!r})")
            else:
                out.append(f"_notebook_run({call})")
        for binding in bind_after.get(plan.number, []):
            out.append(f"try:\n    {binding}\nexcept NameError:\n    pass")
    return "\n".join(out) + "\n", plans


def _failing_module(label: str, message: str) -> str:
    return f'"""Generated by the grader: {label} could not be read."""\n\nraise ImportError({message!r})\n'


def _note(spec: NotebookSpec, plans: list[CellPlan]) -> str:
    kept = sum(1 for p in plans if p.kept)
    skipped = [(p.number, r) for p in plans for r in p.skipped]
    text = (
        f"{spec.path}: read as module {spec.module!r}; kept the definitions of {kept} of {len(plans)} code "
        "cell(s) (training, downloads, shell commands and magics are not run)"
    )
    if skipped:
        listed = "; ".join(f"cell {n}: {r}" for n, r in skipped[:_MAX_LISTED])
        more = f"; and {len(skipped) - _MAX_LISTED} more" if len(skipped) > _MAX_LISTED else ""
        text += f". Skipped: {listed}{more}"
    return text


def _write(root: Path, name: str, text: str) -> None:
    """Write ``root/name`` without following a link someone placed there (unpacking refuses links anyway)."""
    fd = os.open(root / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(root / name, 0o644, follow_symlinks=False)


def _blocked(root: Path, target: str) -> str | None:
    """The note when something other than a regular file sits where the module goes."""
    if (root / target).is_symlink() or ((root / target).exists() and not (root / target).is_file()):
        return f"the submission has a folder named {target}, where the grader puts the notebook's code"
    return None


def _ingest_steps(root: Path, spec: NotebookSpec) -> Iterator[list[object]]:
    """Write the module for one notebook under ``root``. Yields ``["cells", number, chars]`` (its largest
    code cell, for a message should a cap stop what follows) and last ``["note", text]``."""
    target = f"{spec.module}.py"
    replaced = (root / target).exists()
    if blocked := _blocked(root, target):
        yield ["note", f"{spec.path}: not graded, {blocked}"]
        return
    try:
        cells = read_notebook(root / spec.path, spec.path, spec.max_bytes)
    except NotebookError as exc:
        _write(root, target, _failing_module(spec.path, str(exc)))
        yield ["note", f"{spec.path}: not graded, {exc}"]
        return
    largest = max(cells, key=lambda cell: len(cell[1]), default=(0, ""))
    yield ["cells", largest[0], len(largest[1])]
    source, plans = build_module(spec.path, cells, spec.aliases, defer_imports=spec.defer_imports)
    del cells
    _write(root, target, source)
    note = _note(spec, plans)
    yield ["note", note + (f" ({target} in the submission was replaced by the notebook's code)" if replaced else "")]


def _ingest_all(root: Path, specs: list[NotebookSpec]) -> Iterator[list[object]]:
    """The child's work: every notebook in turn, each announced by ``["start", index]`` before it is read."""
    for index, spec in enumerate(specs):
        yield ["start", index]
        yield from _ingest_steps(root, spec)


def _over_cap(spec: NotebookSpec, exc: CapExceeded, largest: tuple[int, int] | None) -> str:
    """What the student reads when reading ``spec``'s notebook passed a cap."""
    caps = exc.caps
    what = {
        "memory": f"needed more than the {human_bytes(caps.memory_bytes)} of memory the grader allows for reading one notebook",
        "time": f"took longer than the grader allows for reading one notebook ({caps.describe('time')})",
        "output": f"made more than the {human_bytes(caps.file_bytes)} of code the grader allows for one notebook",
    }[exc.cap]
    where = ""
    if largest and largest[1] >= 64 * 1024:
        where = f" Its largest code cell, cell {largest[0]}, holds {human_bytes(largest[1])} of code."
    return (
        f"{spec.path} could not be read: reading it {what}.{where} A notebook for this assignment needs far "
        "less: remove code or data pasted into cells (load large data from a file instead) and very large "
        "outputs, then resubmit."
    )


def ingest_notebook(root: Path, spec: NotebookSpec, *, caps: Caps = NOTEBOOK_CAPS) -> str:
    """Write the module for one notebook under ``root``; return the note for the report."""
    return ingest_notebooks(root, [spec], caps=caps)[0]


def ingest_notebooks(root: Path, specs: list[NotebookSpec], *, caps: Caps = NOTEBOOK_CAPS) -> list[str]:
    """Write a module for every declared notebook (before the sandbox starts); return the report notes.

    The notebooks are read in one child process under ``caps``. A notebook that passes a cap gets a
    module whose import raises ``ImportError`` with the message, and the notebooks after it are read
    in a fresh child, so one hostile notebook costs only its own checks. The caps are the child's, so
    a notebook is refused only once it passed them in a child of its own (when it was not the first
    the child read, it is read again in a fresh one)."""
    notes: list[str] = []
    tries = 0  # children that started on the notebook specs[len(notes)] and were stopped
    while len(notes) < len(specs):
        first = len(notes)
        failed: CapExceeded | None = None
        try:
            records = run_confined(_ingest_all, root, specs[first:], caps=caps).records
        except CapExceeded as exc:
            records, failed = exc.records, exc
        largest: tuple[int, int] | None = None
        for record in records:
            if record[0] == "cells":
                largest = (int(record[1]), int(record[2]))
            elif record[0] == "note":
                notes.append(str(record[1]))
                largest, tries = None, 0
        if len(notes) == len(specs):
            break
        if failed is None:  # the child finished without a note for every notebook: a bug, not the student's
            raise RuntimeError(f"notebook ingestion ended early: {records!r:.500}")
        tries += 1
        alone = len(notes) == first and ["start", 0] in records  # it had the child's caps to itself
        if not alone and tries < 2:
            continue  # read it again, first in a fresh child
        spec = specs[len(notes)]
        message = _over_cap(spec, failed, largest)
        target = f"{spec.module}.py"
        if blocked := _blocked(root, target):
            notes.append(f"{spec.path}: not graded, {blocked}")
        else:
            _write(root, target, _failing_module(spec.path, message))
            notes.append(f"{spec.path}: not graded, {message}")
        tries = 0
    return notes
