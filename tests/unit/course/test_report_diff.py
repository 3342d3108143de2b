"""Comparing two report versions check by check."""

from __future__ import annotations

from datetime import UTC, datetime

from grader.course.report_diff import compare
from grader.models import report


def _report(*checks: tuple[str, float, report.CheckResult, str]) -> report.GradeReport:
    tests = [
        report.TestReport(
            name=f"check {n}",
            number=n,
            score=s,
            max_score=2,
            status="passed" if r == report.CheckResult.passed else "failed",
            result=r,
            output=o,
        )
        for n, s, r, o in checks
    ]
    return report.GradeReport(
        score=sum(t.score for t in tests),
        max_score=2 * len(tests),
        execution_time=1,
        tests=tests,
        assignment="a",
        grader_version="0",
        created_at=datetime(2026, 11, 22, tzinfo=UTC),
    )


def test_changed_added_and_removed_checks_are_marked() -> None:
    before = _report(
        ("1", 2, report.CheckResult.passed, ""),
        ("2", 0, report.CheckResult.failed, "wrong"),
        ("3", 2, report.CheckResult.passed, ""),
    )
    after = _report(
        ("1", 2, report.CheckResult.passed, ""),
        ("2", 2, report.CheckResult.passed, ""),
        ("4", 1, report.CheckResult.partial, "half"),
    )
    diff = compare(before, after, 1, 2)
    assert (diff.before, diff.after, diff.before_score, diff.after_score) == (1, 2, 4, 5)
    rows = {c.number: c for c in diff.checks}
    assert [c.number for c in diff.checks] == ["1", "2", "4", "3"]  # the later report's order, then what it lost
    assert not rows["1"].changed
    assert rows["2"].changed and (rows["2"].before_score, rows["2"].after_score) == (0, 2)
    assert (rows["2"].before_result, rows["2"].after_result) == ("failed", "passed")
    assert rows["4"].changed and rows["4"].before_score is None and rows["4"].name == "check 4"
    assert rows["3"].changed and rows["3"].after_result is None and rows["3"].name == "check 3"


def test_a_different_message_alone_is_a_change() -> None:
    before, after = (
        _report(("1", 0, report.CheckResult.failed, "got 3")),
        _report(("1", 0, report.CheckResult.failed, "got 4")),
    )
    assert compare(before, after, 1, 2).checks[0].changed
