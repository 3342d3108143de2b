"""Part (d): ``src/london_baseline.py`` must report the London baseline's accuracy (3 points).

The handout gives no command for this script, so the check tries the ways students run it, in a fixed
order (``INVOCATIONS``): from the assignment root without arguments, with run.py-style flags, and from
``src/``. Every run reads a shadow dev file drawn in this process for this grading (``london.py``): the
same format as birth_dev.tsv, a random number of lines and a random share of "London" answers, put at
every path the script may read. The first invocation whose one reported figure is that file's London
share is then run on two more shadow files with other shares, and must report each. The true shares
are never shown. Spec §5.6 and §7.11 (the output format is free).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.authoring import ScriptRun, Student, check, fail

from . import london
from .staging import stage

SCRIPT = "src/london_baseline.py"
#: Where a script may look for the dev file: the root (``birth_dev.tsv``, also ``../birth_dev.tsv``
#: seen from src/) and src/ itself (``birth_dev.tsv`` read from src/).
DEV_PATHS = ("birth_dev.tsv", "src/birth_dev.tsv")
#: Runs the script from inside src/ (the agent runs scripts from the assignment root).
FROM_SRC = ".grader_run_from_src.py"
_FROM_SRC_TEXT = '''"""Written by the grader: `cd src && python london_baseline.py ARGS`, then back to the root."""
import os
import runpy
import sys

_root = os.getcwd()
sys.argv = ["london_baseline.py", *sys.argv[1:]]
os.chdir("src")
try:
    runpy.run_path(os.path.abspath("london_baseline.py"), run_name="__main__")
finally:
    os.chdir(_root)
'''
#: Shadow files per grading: the first picks the invocation, the others must agree with it.
SHADOWS = 3


@dataclass(frozen=True)
class Invocation:
    """One way to run the script: the file the agent runs, its arguments, and the command shown."""

    path: str
    argv: tuple[str, ...]
    shown: str


INVOCATIONS = (
    Invocation(SCRIPT, (), "python src/london_baseline.py"),
    Invocation(
        SCRIPT,
        ("--eval_corpus_path", "birth_dev.tsv"),
        "python src/london_baseline.py --eval_corpus_path birth_dev.tsv",
    ),
    Invocation(
        SCRIPT,
        ("--eval_corpus_path", "birth_dev.tsv", "--outputs_path", "london.dev.predictions"),
        "python src/london_baseline.py --eval_corpus_path birth_dev.tsv --outputs_path london.dev.predictions",
    ),
    Invocation(FROM_SRC, (), "cd src && python london_baseline.py"),
)

_FRAME = re.compile(r'File "[^"]*?((?:src/)?[^"/]+\.py)", line (\d+)')


def _where(run: ScriptRun) -> str:
    """' (at src/x.py line N: `code`)' from the innermost frame of the student's files, or ''."""
    lines = run.error_traceback.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        m = _FRAME.search(lines[i])
        if m and not m[1].endswith(FROM_SRC):
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f" (at {m[1]} line {m[2]}" + (f": `{code[:120]}`)" if code else ")")
    return ""


def _outcome(run: ScriptRun, figure: london.Figure | None, why: str) -> str:
    """What one run did, for the student: how it ended, what it printed, the figure read from it."""
    if run.failed:
        ended = run.describe_failure() or "it failed"
        if run.error_type and not run.error_message.strip():
            ended = f"it raised {run.error_type}"
        ended += _where(run)
    elif figure is None:
        ended = why
    else:
        ended = f"it reported {figure.line[:200]!r}, which is not the share of London answers in that file"
    tail = run.output.strip()[-200:]
    return ended + (f"; its output ended with {tail!r}" if tail and figure is None else "")


def _run(student: Student, shadow: str, invocation: Invocation) -> tuple[ScriptRun, london.Figure | None, str]:
    """Put ``shadow`` at every dev path and run the script once; the one figure it reports."""
    for path in DEV_PATHS:
        student.write_file(path, shadow)
    run = student.run_script(invocation.path, list(invocation.argv))
    if run.failed:
        return run, None, ""
    figure, why = london.reported_figure(run.output)
    return run, figure, why


def _restore(student: Student, data: Path) -> None:
    pristine = (data / "birth_dev.tsv").read_bytes()
    for path in DEV_PATHS:
        student.write_file(path, pristine)


@check(
    name="London baseline: london_baseline.py reports the London accuracy of the dev file it reads",
    number="5.1",
    points=3,
    tags=["part d"],
    timeout=180,
)
def london_baseline(student: Student, data: Path) -> None:
    """Runs src/london_baseline.py on dev files of the grader's (random London shares, never shown)."""
    dev = (data / "birth_dev.tsv").read_text(encoding="utf-8")
    shadows = london.shadow_files(dev, SHADOWS)
    stage(student, data)
    student.write_file(FROM_SRC, _FROM_SRC_TEXT)
    tried: list[str] = []
    chosen: Invocation | None = None
    try:
        text, correct, total = shadows[0]
        for invocation in INVOCATIONS:
            run, figure, why = _run(student, text, invocation)
            if figure is not None and figure.matches(correct, total):
                chosen = invocation
                break
            tried.append(f"`{invocation.shown}`: {_outcome(run, figure, why)}")
        if chosen is None:
            fail(
                "london_baseline.py should print the accuracy of always answering 'London' on the dev file it "
                "reads. The grader put a dev file of its own (birth_dev.tsv's format, another share of London "
                "answers) at birth_dev.tsv and src/birth_dev.tsv and ran: " + "; ".join(tried) + ". Accepted "
                "outputs: one line with the accuracy as a percentage (5.0 or 5.0 %), a fraction (0.05) or "
                "'25 out of 500', computed from the file (e.g. with utils.evaluate_places)."
            )
        for text, correct, total in shadows[1:]:
            run, figure, why = _run(student, text, chosen)
            if figure is None or not figure.matches(correct, total):
                fail(
                    f"`{chosen.shown}` reported the right London accuracy on one dev file of the grader's, "
                    f"but not on another with a different share of London answers: {_outcome(run, figure, why)}. "
                    "The accuracy must be computed from the file the script reads, not printed as a fixed number."
                )
    finally:
        _restore(student, data)
