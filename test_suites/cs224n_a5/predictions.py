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
        return Parsed(None, f"{name} is not valid UTF-8: byte 0x{raw[exc.start]:02x} on line {line} cannot be decoded. "
                            "Write predictions with open(..., 'w', encoding='utf-8').")  # fmt: skip
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
            return (f" Line {number} is {line[:80]!r}: it looks like free-running generated text rather than the "
                    "place extracted between the first and second MASK characters.")  # fmt: skip
    return ""


def constant_note(lines: list[str], name: str) -> str:
    """A note when every prediction is the same (a constant baseline under a model's name)."""
    distinct = {line.strip() for line in lines}
    if len(lines) > 1 and len(distinct) == 1:
        return f"All {len(lines)} predictions in {name} are the same ({lines[0].strip()[:40]!r}): is this a constant baseline rather than your model's output?"
    return ""
