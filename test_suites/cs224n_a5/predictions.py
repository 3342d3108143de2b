"""Predictions files (trusted side only): strict parsing, precise diagnoses, exact-match scoring.

A predictions file is what the given ``evaluate`` branch of ``run.py`` writes: UTF-8, one prediction
per question line, in question order, nothing else (spec §2). CRLF line ends and a missing final
newline are tolerated. Each way real files go wrong (spec §9) gets a message that says what was
expected, what was found and on which line. Gold test places are never put into a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

MASK = "\u2047"
_HEADER_WORDS = re.compile(r"accura|correct|out of|score|%|predict", re.IGNORECASE)


@dataclass
class Parsed:
    """A predictions file read strictly: its lines (None when unreadable) and what is wrong with it."""

    lines: list[str] | None
    problem: str = ""  # empty when the file is well formed
    notes: list[str] = field(default_factory=list)


#: Folders never searched for output files: packaging debris, caches, TensorBoard runs.
_SKIP_PARTS = frozenset({"__MACOSX", "__pycache__", "expt", ".git"})
#: Extensions students add to an output file's name (``vanilla.nopretrain.dev.predictions.txt``).
_EXTRA_SUFFIXES = (".txt", ".tsv", ".out", ".csv")
_MODELS = ("vanilla", "perceiver")
_SPLITS = ("dev", "test")
#: The output files the handout names: each is graded under its own name, never as another's stand-in.
HANDOUT_NAMES = frozenset(
    f"{run}.{split}.predictions"
    for run in ("vanilla.nopretrain", "vanilla.pretrain", "perceiver.pretrain")
    for split in _SPLITS
) | {"vanilla.model.params", "vanilla.finetune.params", "perceiver.finetune.params"}


@dataclass(frozen=True)
class Located:
    """Where the submission holds the file the handout names: ``path`` relative to the submission (None when
    no single file can be graded), ``note`` for the student when it is elsewhere, ``others`` to name."""

    path: str | None
    note: str = ""
    others: tuple[str, ...] = ()


def _searched(files: Path) -> list[Path]:
    return [
        p
        for p in sorted(files.rglob("*"))
        if p.is_file() and not any(part.startswith(".") or part in _SKIP_PARTS for part in p.relative_to(files).parts)
    ]


def _bare(name: str) -> str:
    """A file name in lower case without one extension students add (``.txt``...)."""
    lower = name.lower()
    for suffix in _EXTRA_SUFFIXES:
        if lower.endswith(suffix):
            return lower[: -len(suffix)]
    return lower


def _similar(file_name: str, name: str) -> bool:
    """Whether ``file_name`` could hold ``name``'s content: same model and split, an output-like name."""
    lower, target = file_name.lower(), name.lower()
    if _bare(lower) in HANDOUT_NAMES:
        return False
    model = next((m for m in _MODELS if m in target), "")
    split = next((s for s in _SPLITS if f".{s}." in target), "")
    other_models = [m for m in _MODELS if m != model]
    other_splits = [s for s in _SPLITS if s != split]
    word = "pred" if target.endswith(".predictions") else target.rsplit(".", 1)[-1]
    return (
        model in lower
        and (not split or split in lower)
        and word in lower
        and not any(m in lower for m in other_models)
        and not any(s in lower for s in other_splits)
    )


def locate(files: Path, name: str) -> Located:
    """The file ``name`` at the top level, else its one copy elsewhere (a subfolder such as ``outputs/``, or the
    name with ``.txt`` added); several copies, or only similar names, are named and nothing is graded."""
    if (files / name).is_file():
        return Located(name)
    searched = _searched(files)
    exact = [p.relative_to(files).as_posix() for p in searched if _bare(p.name) == name.lower()]
    if len(exact) == 1:
        return Located(
            exact[0],
            f"{name} is not at the top level of the submission; the grader read {exact[0]} "
            f"in its place. Put it at the top level under the name {name}.",
        )
    similar = [p.relative_to(files).as_posix() for p in searched if _similar(p.name, name)]
    return Located(None, "", tuple(exact or similar))


def gold_places(path: Path) -> list[str]:
    """The places of a ``question<TAB>place`` file, stripped as ``utils.evaluate_places`` does."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip().split("\t")[1] for line in lines]


def question_lines(path: Path) -> list[str]:
    """The lines of a questions file with their line ends (the evaluate branch keeps a test line's newline)."""
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _looks_like_header(line: str) -> bool:
    return bool(_HEADER_WORDS.search(line)) or (any(c.isdigit() for c in line) and ":" in line)


def parse(raw: bytes, name: str, expected: int, split: str, other: tuple[int, str] | None = None) -> Parsed:
    """Read ``raw`` as the predictions file ``name`` for ``expected`` questions of ``split``.

    ``other`` is the line count and name of the other split, to recognise dev/test swaps.
    """
    if not raw:
        return Parsed(None, f"{name} is empty (0 bytes): expected {expected} predictions, one per line.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Parsed(
            None,
            f"{name} is not valid UTF-8: byte 0x{raw[exc.start]:02x} on line {line} cannot be decoded. "
            "Write predictions with open(..., 'w', encoding='utf-8').",
        )
    notes = []
    if text.startswith("\ufeff"):
        text = text[1:]
        notes.append(f"{name} starts with a byte-order mark (ignored).")
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    found = len(lines)
    if found == expected:
        return Parsed(lines, "", notes)
    what = f"{name} has {found} lines, expected {expected} (one prediction per {split} question, in order)"
    if found == expected + 1 and _looks_like_header(lines[0]):
        problem = f"{what}: line 1 is {lines[0][:80]!r}, which looks like a header (an accuracy line?). The file must hold only the predictions."
    elif other is not None and found == other[0]:
        problem = f"{what}: {found} is the number of {other[1]} questions. Are the {other[1]} predictions saved under the {split} name?"
    elif found == 0:
        problem = f"{what}: the file holds no lines."
    elif found < expected:
        problem = f"{what}: the file is truncated; its last line, line {found}, is {lines[-1][:80]!r}."
    else:
        problem = f"{what}: line {expected + 1} is {lines[expected][:80]!r}."
        if sum(len(x) > 40 or MASK in x for x in lines) > found // 4:
            problem += (
                " It looks like free-running generated text: each prediction must be the place alone, on one line."
            )
    return Parsed(None, problem, notes)


@dataclass(frozen=True)
class Score:
    correct: int
    total: int

    @property
    def percent(self) -> float:
        return 100 * self.correct / self.total if self.total else 0.0

    def reaches(self, pct: float) -> bool:
        """``100·correct ≥ pct·total`` in exact arithmetic (no float rounding at the boundary)."""
        return 100 * self.correct >= Fraction(str(pct)) * self.total

    def __str__(self) -> str:
        return f"{self.correct}/{self.total} = {self.percent:.1f} %"


def score(lines: list[str], gold: list[str]) -> Score:
    """Exact match after stripping, line by line (both lists have the same length)."""
    assert len(lines) == len(gold)
    return Score(sum(p.strip() == g for p, g in zip(lines, gold, strict=True)), len(gold))


def free_text_hint(lines: list[str]) -> str:
    """A hint when predictions look like generated text rather than extracted places ('' otherwise)."""
    for number, line in enumerate(lines, 1):
        if MASK in line or len(line.strip()) > 60 or "Where was" in line:
            return (
                f" Line {number} is {line[:80]!r}: it looks like free-running generated text rather than the "
                "place extracted between the first and second MASK characters."
            )
    return ""


def constant_note(lines: list[str], name: str) -> str:
    """A note when every prediction is the same (a constant baseline under a model's name)."""
    distinct = {line.strip() for line in lines}
    if len(lines) > 1 and len(distinct) == 1:
        return f"All {len(lines)} predictions in {name} are the same ({lines[0].strip()[:40]!r}): is this a constant baseline rather than your model's output?"
    return ""
