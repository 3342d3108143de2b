"""Part (d): ``src/london_baseline.py`` must report the London baseline's real dev accuracy (3 points).

The script runs in the sandbox from the assignment root, on the grader's pristine ``birth_dev.tsv``;
the true accuracy (25/500 = 5.0 %) is computed here. Its output format is free (spec §7.11): a
percentage, a fraction or "25 out of 500". A second run on a shadow dev file (same questions, some
places changed to London) must report that file's accuracy, so a script that prints a fixed number
fails. Both files are public data: no test label is involved.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from grader.authoring import check, fail
from grader.sandbox.client import Student

from .staging import stage

SCRIPT = "src/london_baseline.py"
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
MAX_NUMBERS = 30


def london_truth(dev_text: str) -> tuple[int, int]:
    """(correct, total) of answering "London" for every line of a ``question<TAB>place`` text."""
    places = [line.strip().split("\t")[1] for line in dev_text.splitlines()]
    return sum(p == "London" for p in places), len(places)


def shadow_dev(dev_text: str, seed: int, extra: int = 37) -> str:
    """The dev file with ``extra`` more places (chosen by ``seed``) replaced by "London"."""
    lines = dev_text.splitlines()
    others = [i for i, line in enumerate(lines) if line.strip().split("\t")[1] != "London"]
    for i in random.Random(seed).sample(others, min(extra, len(others))):
        lines[i] = lines[i].split("\t")[0] + "\tLondon"
    return "\n".join(lines) + "\n"


def reports(output: str, correct: int, total: int) -> bool:
    """True when ``output`` states correct/total as a percentage, a fraction or 'correct out of total'."""
    numbers = [float(n) for n in _NUMBER.findall(output)]
    pct, frac = 100 * correct / total, correct / total
    if any(abs(x - pct) <= 0.05 or abs(x - frac) <= 0.0005 for x in numbers):
        return True
    return any(a == correct and b == total for a, b in zip(numbers, numbers[1:], strict=False))


def _run(student: Student) -> str:
    run = student.run_script(SCRIPT, [])
    if run.failed:
        fail(
            f"Running `python {SCRIPT}` from the assignment root (with the handout's data files) failed: {run.describe_failure()}"
        )
    output = run.output.strip()
    if not output:
        fail(
            f"`python {SCRIPT}` printed nothing: it should print the accuracy of always predicting 'London' on the dev set."
        )
    if len(_NUMBER.findall(output)) > MAX_NUMBERS:
        fail(
            f"`python {SCRIPT}` printed more than {MAX_NUMBERS} numbers, so the accuracy cannot be told apart; print it once."
        )
    return output


@check(
    name="London baseline: london_baseline.py reports the real dev accuracy",
    number="5.1",
    points=3,
    tags=["part d"],
    timeout=120,
)
def london_baseline(student: Student, data: Path, seed: int) -> None:
    """Runs src/london_baseline.py on the dev set (expected 5.0 %), then on a shadow dev file it cannot know."""
    dev = (data / "birth_dev.tsv").read_text(encoding="utf-8")
    correct, total = london_truth(dev)
    stage(student, data)
    output = _run(student)
    if not reports(output, correct, total):
        fail(f"`python {SCRIPT}` printed {output[-300:]!r}, but always answering 'London' is right on {correct} of the "
             f"{total} dev examples ({100 * correct / total:.1f} %); no number in the output matches (accepted forms: "
             f"{100 * correct / total:g}, {100 * correct / total:g}%, {correct / total:g}, '{correct} out of {total}').")  # fmt: skip
    shadow = shadow_dev(dev, seed)
    s_correct, s_total = london_truth(shadow)
    stage(student, data, ("birth_dev.tsv",), {"birth_dev.tsv": shadow.encode("utf-8")})
    try:
        s_output = _run(student)
    finally:
        stage(student, data, ("birth_dev.tsv",))
    if not reports(s_output, s_correct, s_total):
        fail(f"With another dev file in the same format (where 'London' is right on {s_correct} of {s_total}, "
             f"{100 * s_correct / s_total:.1f} %), `python {SCRIPT}` printed {s_output[-300:]!r}: the accuracy must be "
             "computed from birth_dev.tsv (e.g. with utils.evaluate_places), not printed as a fixed number.")  # fmt: skip
