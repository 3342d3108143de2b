"""The visibility rules applied to students' views of a report (pure functions, no service)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from grader.api.views import student_report, visible_to_students
from grader.engine.manifest import SuiteManifest
from grader.engine.report import CheckResult, GradeReport
from grader.engine.report import TestReport as CheckReport

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _test(number: str, visibility: str) -> CheckReport:
    return CheckReport(name=f"check {number}", number=number, score=1, max_score=1, status="passed",
                       result=CheckResult.passed, visibility=visibility, staff_output="traceback for staff")  # fmt: skip


def _report() -> GradeReport:
    tests = [_test("1", "visible"), _test("2", "hidden"), _test("3", "after_due_date"), _test("4", "after_published")]
    return GradeReport(score=4, max_score=4, execution_time=1, tests=tests, assignment="a", grader_version="0",
                       created_at=NOW, staff_output="sandbox output")  # fmt: skip


def _manifest(**fields: object) -> SuiteManifest:
    return SuiteManifest.model_validate({"id": "a", "title": "A", **fields})


def test_before_the_due_date_students_see_only_visible_checks_and_no_total() -> None:
    view = student_report(_report(), _manifest(due_date=NOW + timedelta(days=1)), NOW)
    assert [t.number for t in view.tests] == ["1"]
    assert view.score is None and view.max_score is None and view.withheld_checks == 3


def test_after_the_due_date_hidden_and_after_due_date_checks_appear() -> None:
    view = student_report(_report(), _manifest(due_date=NOW - timedelta(seconds=1)), NOW)
    assert [t.number for t in view.tests] == ["1", "2", "3"]
    assert view.score is None  # after_published is still withheld, so the total is too


def test_published_and_past_due_shows_everything_with_the_total() -> None:
    view = student_report(_report(), _manifest(due_date=NOW - timedelta(days=1), published=True), NOW)
    assert len(view.tests) == 4 and view.score == 4 and view.withheld_checks == 0


def test_no_due_date_keeps_hidden_checks_hidden() -> None:
    assert not visible_to_students(_test("2", "hidden"), _manifest(), NOW)


def test_student_view_cannot_carry_staff_output() -> None:
    view = student_report(_report(), _manifest(published=True, due_date=NOW - timedelta(days=1)), NOW)
    assert "staff" not in view.model_dump_json()
    assert "staff_output" not in type(view).model_fields and "staff_output" not in type(view.tests[0]).model_fields


def test_naive_due_dates_are_read_as_utc() -> None:
    manifest = _manifest(due_date=datetime(2026, 11, 22, 11, 0))
    assert visible_to_students(_test("3", "after_due_date"), manifest, NOW)
