"""Verdicts that cannot be forged (issue 20, classes 5 and 6), graded end to end by the engine in bwrap.

A student must not read the hidden test labels by resubmitting chosen answers, nor read a check's
hidden inputs or the host's paths through their own exception text. The ``labels`` toy suite has a
dev file scored in the open, a test file scored against hidden labels (withheld until 2099), two
checks with hidden inputs and a public one.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.api.views import student_report
from grader.config import PROJECT_ROOT
from grader.engine.runner import grade
from grader.engine.suites import load_suite
from grader.models.report import GradeReport
from tests.utils.builders import TOY_SUITES, make_submission, settings_for

pytestmark = pytest.mark.bwrap

SUITE = load_suite(TOY_SUITES / "labels")
GOLD = (TOY_SUITES / "labels" / "data" / "test_labels.txt").read_text().split()
HIDDEN = (TOY_SUITES / "labels" / "data" / "hidden_case.txt").read_text().strip()
DOUBLE = "def double(s):\n    return s + s\n"
NOW = datetime(2026, 12, 4, tzinfo=UTC)  # before the toy suite's due date (2099)


def graded(workspace: Path, name: str, solution: str, test_predictions: list[str]) -> GradeReport:
    files = {
        "solution.py": solution,
        "dev.predictions": "a\na\na\na\n",
        "test.predictions": "\n".join(test_predictions) + "\n",
    }
    submission = make_submission(workspace / name, files)
    return grade(SUITE, submission, settings_for(workspace / f"var-{name}", suites_dir=TOY_SUITES))


def student_json(report: GradeReport) -> str:
    view = student_report(report, SUITE.manifest, NOW)
    view.execution_time = 0
    for test in view.tests:
        test.execution_time = 0
    return view.model_dump_json()


def test_before_the_due_date_the_student_view_does_not_depend_on_the_hidden_labels(workspace: Path) -> None:
    # The oracle attack: two submissions that differ only in their test answers (all "a", then the gold
    # itself). Whatever the answers, the student reads the same thing, so resubmitting teaches nothing.
    all_a = graded(workspace, "all-a", DOUBLE, ["a"] * len(GOLD))
    perfect = graded(workspace, "perfect", DOUBLE, GOLD)
    assert all_a.tests[1].score != perfect.tests[1].score  # staff see the figure, and it differs
    assert "Test accuracy: 4/8" in all_a.tests[1].output and "Test accuracy: 8/8" in perfect.tests[1].output
    assert student_json(all_a) == student_json(perfect)
    view = student_report(perfect, SUITE.manifest, NOW)
    assert view.score is None and [p.number for p in view.pending] == ["2"]
    assert view.pending[0].output.startswith("test.predictions: 8 lines, well formed.")
    assert "8/8" not in student_json(perfect) and "Dev accuracy: 2/4" in student_json(perfect)
    # staff flags reach the report, never the student
    assert perfect.staff_flags == ["1 Dev predictions: accuracy: constant dev predictions"]
    assert "constant" not in student_json(perfect)


def test_a_crash_in_a_hidden_input_check_does_not_echo_the_input(workspace: Path) -> None:
    # Echo the input in the message, in a file name of code compiled at run time, and in the student's
    # own source file rewritten before raising (a traceback reads its lines when it is formatted).
    solution = (
        "import os\n"
        "def double(s):\n"
        "    with open(__file__, 'a') as f:\n"
        "        f.write('\\n# ' + s + '\\n')\n"
        "    exec(compile('raise ValueError(' + repr(s) + ')', s, 'exec'))\n"
    )
    report = graded(workspace, "echo", solution, GOLD)
    after_due = student_report(report, SUITE.manifest, datetime(2100, 1, 1, tzinfo=UTC))  # hidden inputs stay hidden
    for number in ("3", "4"):
        shown = next(t for t in after_due.tests if t.number == number)
        assert shown.result == "failed" and "ValueError" in shown.output, shown.output
        assert HIDDEN not in shown.output, shown.output
    assert HIDDEN not in after_due.model_dump_json()
    assert 'File "solution.py", line 5, in double' in after_due.tests[2].output
    assert HIDDEN in report.tests[2].staff_output and HIDDEN in report.tests[3].staff_output  # staff see it all
    public = report.tests[4]  # check 5 passes "ab": not hidden, so the student reads their message
    assert "ValueError: ab" in public.output


def test_a_crash_shows_no_host_path(workspace: Path) -> None:
    solution = (
        "import os, sys\n"
        "def double(s):\n"
        "    raise ValueError(' | '.join([__file__, sys.prefix, os.getcwd(), sys.executable]))\n"
    )
    report = graded(workspace, "paths", solution, GOLD)
    public = report.tests[4]
    assert public.output.startswith("Your code raised ValueError: solution.py | <python> | . | <python>/bin/"), (
        public.output
    )
    for host in (str(PROJECT_ROOT), sys.prefix, str(workspace), "/home/student", "/mnt/submission", "/opt/grader"):
        assert host not in student_json(report), host
    assert "/home/student/submission/" in public.staff_output  # staff read the raw text
