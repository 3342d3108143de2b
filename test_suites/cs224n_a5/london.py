"""The London baseline's shadow dev files and the one figure a run reports (trusted side only).

A script's output is one claim (docs/SECURITY.md, "The rule"). Each grading draws fresh shadow dev
files whose share of "London" answers is random and never shown, so no printed constant, table or
formula of the committed dev file can match; the figure a run reports is parsed as exactly one value,
so printing many numbers does not give many guesses.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

LONDON = "London"
#: The share of London answers in a shadow file is drawn in this range (percent of its lines).
SHARE_RANGE_PCT = (3.0, 30.0)
#: Shadow shares keep this distance (percentage points) from each other and from the real dev share
#: (5.0 %), so that one printed value, even rounded to a whole percent, can match at most one of them.
MIN_GAP_PCT = 1.2
#: The coarsest rounding accepted: a whole percent (the handout's "5%"), i.e. ±0.5 points.
MAX_TOLERANCE = 0.005
#: The finest: float32 arithmetic prints 4.999999 for 5 (1e-6 of a share is 0.0001 percentage points).
MIN_TOLERANCE = 1e-6

_NUM = r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_PERCENT = re.compile(rf"({_NUM})\s*%")
_RATIO = re.compile(rf"({_NUM})\s*(?:/|out\s+of|of)\s*({_NUM})", re.IGNORECASE)
_NUMBER = re.compile(_NUM)


def london_truth(dev_text: str) -> tuple[int, int]:
    """(correct, total) of answering "London" for every line of a ``question<TAB>place`` text."""
    places = [line.strip().split("\t")[1] for line in dev_text.splitlines()]
    return sum(p == LONDON for p in places), len(places)


def _rows(dev_text: str) -> tuple[list[str], list[str]]:
    rows = [line.strip().split("\t") for line in dev_text.splitlines() if "\t" in line]
    questions = [r[0] for r in rows]
    others = sorted({r[1] for r in rows if r[1] != LONDON}) or ["Paris", "Rome", "Madrid"]
    return questions, others


def shadow_file(dev_text: str, rng: random.Random, avoid_pct: list[float]) -> tuple[str, int, int]:
    """A dev file in the handout's format with a drawn number of lines and of "London" answers.

    Questions are drawn from the dev file's, the other answers from its other places. The London share
    is drawn in ``SHARE_RANGE_PCT``, at least ``MIN_GAP_PCT`` from every share in ``avoid_pct``.
    Returns (text, correct, total).
    """
    questions, others = _rows(dev_text)
    total = rng.randint(400, 600)
    low, high = (math.ceil(total * p / 100) for p in SHARE_RANGE_PCT)
    choices = [c for c in range(low, high + 1) if all(abs(100 * c / total - a) >= MIN_GAP_PCT for a in avoid_pct)]
    correct = rng.choice(choices)
    london_rows = set(rng.sample(range(total), correct))
    lines = [f"{rng.choice(questions)}\t{LONDON if i in london_rows else rng.choice(others)}\n" for i in range(total)]
    return "".join(lines), correct, total


def shadow_files(dev_text: str, count: int, rng: random.Random | None = None) -> list[tuple[str, int, int]]:
    """``count`` shadow files with pairwise distant London shares, all far from the real dev share."""
    rng = rng or random.SystemRandom()
    correct, total = london_truth(dev_text)
    avoid = [100 * correct / total] if total else []
    files = []
    for _ in range(count):
        text, c, n = shadow_file(dev_text, rng, avoid)
        avoid.append(100 * c / n)
        files.append((text, c, n))
    return files


@dataclass(frozen=True)
class Figure:
    """The one accuracy a run reports: a share in [0, 1], how precisely it was printed, and its line."""

    share: float
    tolerance: float
    line: str

    def matches(self, correct: int, total: int) -> bool:
        return total > 0 and abs(self.share - correct / total) <= self.tolerance + 1e-9


def _tolerance(token: str, scale: float) -> float:
    """Half a unit of the last printed digit (rounding), in share units, within the two bounds above."""
    if "e" in token.lower():
        return MIN_TOLERANCE
    decimals = len(token.partition(".")[2])
    return min(max(0.5 * 10.0**-decimals * scale, MIN_TOLERANCE), MAX_TOLERANCE)


def _claims(line: str) -> list[Figure]:
    """The accuracies one line states: percentages and ratios, else one bare value (see module doc)."""
    claims = [Figure(float(m[1]) / 100, _tolerance(m[1], 0.01), line) for m in _PERCENT.finditer(line)]
    rest = _PERCENT.sub(" ", line)
    for m in _RATIO.finditer(rest):
        num, den = float(m[1]), float(m[2])
        if 0 < den and num <= den:
            claims.append(Figure(num / den, MIN_TOLERANCE, line))
    if claims:
        return claims
    tokens = _NUMBER.findall(line)
    decimals = [t for t in tokens if "." in t or "e" in t.lower()]
    if len(decimals) == 1:
        value = float(decimals[0])
        if value <= 1:
            return [Figure(value, _tolerance(decimals[0], 1.0), line)]
        if value <= 100:
            return [Figure(value / 100, _tolerance(decimals[0], 0.01), line)]
        return []
    if decimals:
        return []
    integers = [int(t) for t in tokens]
    if len(integers) == 1 and integers[0] <= 100:
        return [Figure(integers[0] / 100, MAX_TOLERANCE, line)]
    if len(integers) == 2 and 0 < max(integers):  # "(500, 25)": evaluate_places' (total, correct)
        return [Figure(min(integers) / max(integers), MIN_TOLERANCE, line)]
    return []


def reported_figure(output: str) -> tuple[Figure | None, str]:
    """The one accuracy ``output`` reports, from its last line that states one; or (None, why not).

    A line that states different values (e.g. "5.0 % 12.4 %") is not one claim: it reports nothing.
    """
    for raw in reversed(output.strip().splitlines()):
        line = raw.strip()
        claims = _claims(line)
        if not claims:
            continue
        best = min(claims, key=lambda f: f.tolerance)
        if any(abs(f.share - best.share) > f.tolerance + best.tolerance + 1e-9 for f in claims):
            return None, f"its last line stating an accuracy, {line[:200]!r}, states several different values"
        return best, ""
    return None, "it printed no accuracy (a percentage such as 5.0 %, a fraction such as 0.05, or '25 out of 500')"
