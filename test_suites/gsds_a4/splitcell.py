"""q1b(a): run the student's dataset cell(s) in the sandbox on a synthetic 100-row dataset.

The ingestion keeps only definitions, so ``train_set = ...`` never runs on import. Here the trusted
side picks the cells from the first that calls ``load_dataset(`` to the last assignment of ``train_set`` /
``valid_set`` (IPython lines and ``datasets`` imports blanked: the library is not installed in the
sandbox), and the sandbox runs them in a namespace that starts as a copy of the notebook module's,
with ``load_dataset`` bound to a stand-in. The stand-in (plain Python, sent as text, run inside the
sandbox: nothing there is trusted) mimics what a split needs of Hugging Face's ``Dataset``:
``train_test_split`` with HF's rounding (test = ceil, train = floor), ``select``, ``shuffle``,
indexing, ``split="train"`` and ``split="train[:90%]"``. The captions are drawn on the trusted side for
each grading (a random tag per row, unique per row): the trusted side checks, from the captions it reads
back, that the two parts are rows of *that* dataset, disjoint, of the right sizes. Rows a notebook makes
up instead of splitting the loaded dataset cannot carry the tags.
"""

from __future__ import annotations

import ast
import re
import secrets
from pathlib import Path
from typing import Any

from grader.authoring import (
    NotebookError,
    NotebookSpec,
    RemoteObject,
    Student,
    StudentCodeError,
    fail,
    fail_raised,
    raised,
    read_notebook,
)

ROWS = 100
NOTEBOOK = "q1/q1b.ipynb"
DATA_PATH = "reach-vb/pokemon-blip-captions"  # the handout's data_path
_MAGIC = re.compile(r"^\s*([A-Za-z_][\w\s,]*=\s*)?[!%]")

STAND_IN = """
import math, random, re

try:
    from PIL import Image
except ImportError:
    Image = None


def _row(i):
    image = Image.new("RGB", (16, 16), (i % 256, 7 * i % 256, 13 * i % 256)) if Image else None
    return {"image": image, "text": CAPTIONS[i]}


class DatasetDict(dict):
    pass


class SyntheticCaptions:
    def __init__(self, rows):
        self._rows = list(rows)
        self.num_rows = len(self._rows)
        self.column_names = ["image", "text"]

    def __len__(self):
        return len(self._rows)

    def __iter__(self):
        return iter(self._rows)

    def __getitem__(self, key):
        if isinstance(key, str):
            return [row[key] for row in self._rows]
        if isinstance(key, slice):
            return {c: [row[c] for row in self._rows[key]] for c in self.column_names}
        return self._rows[int(key)]

    def select(self, indices):
        return SyntheticCaptions(self._rows[int(i)] for i in indices)

    def shuffle(self, seed=None, **_):
        order = list(range(len(self._rows)))
        random.Random(seed).shuffle(order)
        return self.select(order)

    def train_test_split(self, test_size=None, train_size=None, shuffle=True, seed=None, **_):
        n = len(self._rows)
        n_test = math.ceil(test_size * n) if isinstance(test_size, float) else test_size
        n_train = math.floor(train_size * n) if isinstance(train_size, float) else train_size
        if n_test is None and n_train is None:
            n_test = math.ceil(0.25 * n)
        n_test = n - n_train if n_test is None else n_test
        n_train = n - n_test if n_train is None else n_train
        order = list(range(n))
        if shuffle:
            random.Random(seed).shuffle(order)
        return DatasetDict(train=self.select(order[n_test:n_test + n_train]), test=self.select(order[:n_test]))


def load_dataset(path, name=None, split=None, **_):
    full = SyntheticCaptions(_row(i) for i in range(ROWS))
    if split is None:
        return DatasetDict(train=full)
    match = re.fullmatch(r"train(?:\\[(\\d*)(%?):(\\d*)(%?)\\])?", str(split).replace(" ", ""))
    if not match:
        raise ValueError("this dataset has only a 'train' split, not %r" % (split,))
    lo, lo_pct, hi, hi_pct = (g or "" for g in match.groups())
    start = (int(lo) * ROWS // 100 if lo_pct else int(lo)) if lo else 0
    stop = (int(hi) * ROWS // 100 if hi_pct else int(hi)) if hi else ROWS
    return full.select(range(start, stop))
"""


def fresh_captions() -> list[str]:
    """One caption per row, each with a tag drawn for this grading."""
    return [f"a synthetic pokemon number {i} ({secrets.token_hex(6)})" for i in range(ROWS)]


def stand_in_source(captions: list[str]) -> str:
    """The stand-in's source with the grader's captions (its rows) filled in."""
    return f"ROWS = {len(captions)}\nCAPTIONS = {captions!r}\n{STAND_IN}"


def _cells(notebook: Path) -> list[tuple[int, str]]:
    """The code cells, read as the ingestion reads them (same size limit, same messages)."""
    try:
        return read_notebook(notebook, NOTEBOOK, NotebookSpec(path=NOTEBOOK, module="q1b").max_bytes)
    except NotebookError as exc:
        fail(str(exc))


def _clean(source: str) -> str:
    """IPython lines (in a cell that is not valid Python as it stands) and ``datasets`` imports become ``pass``
    (same line numbers, same indentation)."""
    lines = source.splitlines()
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        lines = [line[: len(line) - len(line.lstrip())] + "pass" if _MAGIC.match(line) else line for line in lines]
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "\n".join(lines)  # the sandbox reports the error in the student's own terms
    for node in tree.body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        module = node.module if isinstance(node, ast.ImportFrom) else None
        if (module or "").split(".")[0] == "datasets" or any(n.split(".")[0] == "datasets" for n in names):
            for i in range(node.lineno - 1, node.end_lineno or node.lineno):
                lines[i] = "pass" if i == node.lineno - 1 else ""
    return "\n".join(lines)


def _assigns(source: str, names: set[str]) -> bool:
    try:
        tree = ast.parse(_clean(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return any(re.search(rf"^\s*{n}\s*[,=]", source, re.MULTILINE) for n in names)
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(n, ast.Name) and n.id in names for target in targets for n in ast.walk(target)):
            return True
    return False


def dataset_cells(files: Path) -> list[tuple[int, str]]:
    """The cells that load and split the dataset, cleaned; a failure if there are none."""
    cells = _cells(files / NOTEBOOK)
    last = max((i for i, (_, s) in enumerate(cells) if _assigns(s, {"train_set", "valid_set"})), default=None)
    if last is None:
        fail(f"{NOTEBOOK} never assigns train_set and valid_set at the top level of a cell.")
    first = next((i for i, (_, s) in enumerate(cells[: last + 1]) if re.search(r"load_dataset\s*\(", s)), last)
    return [(n, _clean(s)) for n, s in cells[first : last + 1]]


def run(student: Student, files: Path, captions: list[str]) -> tuple[RemoteObject, RemoteObject]:
    """``(train_set, valid_set)`` as the student's cells build them from the stand-in dataset of ``captions``."""
    cells = dataset_cells(files)
    builtins = student.module("builtins")
    # A dict whose key is not a string travels as a handle, so the namespace stays in the sandbox.
    stand_in, namespace = builtins.dict([[("stand-in",), 0]]), builtins.dict([[("q1b",), 0]])
    builtins.exec(stand_in_source(captions), stand_in)
    try:
        builtins.list(builtins.map(namespace.update, builtins.map(builtins.vars, [student.module("q1b")])))
    except StudentCodeError as exc:
        fail(f"{NOTEBOOK} could not be imported: {raised(exc)}")
    load = stand_in["load_dataset"]
    namespace.call_method("__setitem__", "load_dataset", load)
    namespace.call_method("__setitem__", "datasets", student.module("types").SimpleNamespace(load_dataset=load))
    for number, source in cells:
        try:
            builtins.exec(builtins.compile(source, f"{NOTEBOOK}, cell {number}", "exec"), namespace)
        except StudentCodeError as exc:
            fail_raised(f"Running the dataset cell {number} (load_dataset replaced by a 100-row stand-in)", exc)
    parts = []
    for name in ("train_set", "valid_set"):
        if not namespace.call_method("__contains__", name):
            fail(f"The dataset cell(s) of {NOTEBOOK} do not define {name}.")
        parts.append(namespace[name])
    return parts[0], parts[1]


def captions(student: Student, part: Any, name: str) -> list[str]:
    """The caption of every row of ``part`` (a dataset of rows: HF's, a torch Subset, a list)."""
    if not isinstance(part, RemoteObject | list):
        fail(f"{name} should be a dataset of rows, got {type(part).__name__}.")
    builtins, operator = student.module("builtins"), student.module("operator")
    try:
        texts = builtins.list(builtins.map(operator.itemgetter("text"), part))
    except StudentCodeError as exc:
        fail(f"The rows of {name} should have a 'text' caption ({raised(exc)}); is it a split of the dataset?")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        fail(f"The rows of {name} should have a 'text' caption.")
    return list(texts)
