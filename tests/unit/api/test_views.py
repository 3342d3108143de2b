"""The visibility rules applied to students' views of a report (pure functions, no service)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from grader.api.views import student_report, visible_to_students
from grader.models.manifest import SuiteManifest
from grader.models.report import CheckResult, GradeReport
from grader.models.report import TestReport as CheckReport
from grader.models.visibility import Visibility

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _test(number: str, visibility: str) -> CheckReport:
    return CheckReport(
        name=f"check {number}",
        number=number,
        score=1,
        max_score=1,
        status="passed",
        result=CheckResult.passed,
        visibility=visibility,
        staff_output="traceback for staff",
    )


def _report() -> GradeReport:
    tests = [_test("1", "visible"), _test("2", "hidden"), _test("3", "after_due_date"), _test("4", "after_published")]
    return GradeReport(
        score=4,
        max_score=4,
        execution_time=1,
        tests=tests,
        assignment="a",
        grader_version="0",
        created_at=NOW,
        staff_output="sandbox output",
    )


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


# ----------------------------------------------------------------------------- hidden-label policy

LABELS = {"policy": {"hidden_label_checks": ["2"]}}


def _labelled_report() -> GradeReport:
    tests = [
        CheckReport(
            name="dev accuracy",
            number="1",
            score=1,
            max_score=1,
            status="passed",
            result=CheckResult.passed,
            output="Dev accuracy: 4/4",
        ),
        CheckReport(
            name="test accuracy",
            number="2",
            score=1.25,
            max_score=2,
            status="failed",
            result=CheckResult.partial,
            output="Test accuracy: 5/8",
            pre_release_output="test.predictions: 8 lines, well formed.",
            staff_flags=["looks copied"],
            staff_output="traceback for staff",
        ),
    ]
    return GradeReport(
        score=2.25,
        max_score=3,
        execution_time=1,
        tests=tests,
        assignment="a",
        grader_version="0",
        created_at=NOW,
        staff_flags=["2 test accuracy: looks copied"],
    )


def test_before_the_due_date_a_hidden_label_check_shows_no_score_result_or_figure() -> None:
    view = student_report(_labelled_report(), _manifest(due_date=NOW + timedelta(days=1), **LABELS), NOW)
    assert [t.number for t in view.tests] == ["1"] and view.withheld_checks == 1
    assert [(p.number, p.max_score) for p in view.pending] == [("2", 2)]
    assert view.pending[0].output == (
        "test.predictions: 8 lines, well formed.\n"
        "The result of this check on the hidden test labels is shown after the due date."
    )
    # neither the total nor a sum that includes the withheld check: only the shown checks, labelled as such
    assert view.score is None and view.max_score is None and (view.shown_score, view.shown_max_score) == (1, 1)
    dumped = view.model_dump_json()
    assert "5/8" not in dumped and "1.25" not in dumped and "2.25" not in dumped and "partial" not in dumped
    assert "looks copied" not in dumped and "staff" not in dumped


def test_after_the_due_date_the_hidden_label_check_and_the_total_are_shown() -> None:
    view = student_report(_labelled_report(), _manifest(due_date=NOW - timedelta(seconds=1), **LABELS), NOW)
    assert [t.number for t in view.tests] == ["1", "2"] and view.pending == []
    assert view.score == 2.25 and view.tests[1].output == "Test accuracy: 5/8"
    assert "looks copied" not in view.model_dump_json()


def test_without_a_due_date_a_hidden_label_check_stays_withheld() -> None:
    view = student_report(_labelled_report(), _manifest(**LABELS), NOW)
    assert [t.number for t in view.tests] == ["1"] and "5/8" not in view.model_dump_json()


def test_a_policy_released_at_publishing_waits_for_it_even_after_the_due_date() -> None:
    policy = {"policy": {"hidden_label_checks": ["2"], "withhold_until": "published"}}
    past = NOW - timedelta(days=1)
    assert [t.number for t in student_report(_labelled_report(), _manifest(due_date=past, **policy), NOW).tests] == [
        "1"
    ]
    view = student_report(_labelled_report(), _manifest(due_date=past, published=True, **policy), NOW)
    assert [t.number for t in view.tests] == ["1", "2"]


def test_a_report_that_marked_a_check_label_derived_is_withheld_even_if_the_manifest_no_longer_lists_it() -> None:
    report = _labelled_report()
    report.tests[1].hidden_labels = True
    view = student_report(report, _manifest(due_date=NOW + timedelta(days=1)), NOW)
    assert [p.number for p in view.pending] == ["2"] and "5/8" not in view.model_dump_json()


def test_a_hidden_label_check_that_is_also_hidden_is_not_even_listed_as_pending() -> None:
    report = _labelled_report()
    report.tests[1].visibility = Visibility.hidden
    view = student_report(report, _manifest(due_date=NOW + timedelta(days=1), **LABELS), NOW)
    assert view.pending == [] and view.withheld_checks == 1
