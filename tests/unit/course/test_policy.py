"""The late penalty, the dates a student gets and the submission that counts: pure functions, edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from grader.course.policy import (
    Candidate,
    Counting,
    CourseSettings,
    LatePolicy,
    StudentException,
    counted,
    final_grade,
    is_late,
    penalty_percent,
    release_date,
    student_dates,
    upload_refusal,
)

DUE = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
LATE_DUE = DUE + timedelta(days=3)
COURSE = CourseSettings(due=DUE, late_due=LATE_DUE, late_policy=LatePolicy.per_day, late_percent=10)


def test_naive_dates_are_utc_and_other_zones_compare_as_instants() -> None:
    settings = CourseSettings(due=datetime(2026, 12, 1, 23, 59))
    assert settings.due == DUE
    # 00:59 in UTC+1 is the same instant as the due date: on time.
    same_instant = datetime(2026, 12, 2, 0, 59, tzinfo=timezone(timedelta(hours=1)))
    assert not is_late(same_instant, student_dates(settings, None))


def test_exactly_at_the_due_date_is_on_time_and_a_microsecond_after_is_a_started_day() -> None:
    dates = student_dates(COURSE, None)
    assert penalty_percent(DUE, COURSE, dates) == 0
    assert penalty_percent(DUE + timedelta(microseconds=1), COURSE, dates) == 10
    assert penalty_percent(DUE + timedelta(days=1), COURSE, dates) == 10
    assert penalty_percent(DUE + timedelta(days=1, seconds=1), COURSE, dates) == 20


def test_per_hour_is_capped_at_100_and_after_the_late_due_date_everything_is_lost() -> None:
    hourly = COURSE.model_copy(update={"late_policy": LatePolicy.per_hour, "late_percent": 5})
    dates = student_dates(hourly, None)
    assert penalty_percent(DUE + timedelta(hours=2, minutes=1), hourly, dates) == 15
    assert penalty_percent(DUE + timedelta(hours=30), hourly, dates) == 100
    assert penalty_percent(LATE_DUE, hourly, dates) == 100  # the cap, not yet the cut-off
    assert penalty_percent(LATE_DUE + timedelta(seconds=1), COURSE, student_dates(COURSE, None)) == 100


def test_no_late_policy_flags_without_penalty() -> None:
    course = COURSE.model_copy(update={"late_policy": LatePolicy.none})
    dates = student_dates(course, None)
    assert is_late(DUE + timedelta(hours=5), dates)
    assert penalty_percent(DUE + timedelta(hours=5), course, dates) == 0


def test_an_extension_moves_the_due_date_and_keeps_a_late_window() -> None:
    ext = StudentException(due=DUE + timedelta(days=5))
    dates = student_dates(COURSE, ext)
    assert dates.due == DUE + timedelta(days=5)
    assert dates.late_due == DUE + timedelta(days=5)  # past the course's late due date: at least the extension
    assert penalty_percent(DUE + timedelta(days=4), COURSE, dates) == 0
    assert upload_refusal(DUE + timedelta(days=4), dates, 0) is None
    assert upload_refusal(DUE + timedelta(days=4), student_dates(COURSE, None), 0) == "closed to submissions"
    short = student_dates(COURSE, StudentException(due=DUE + timedelta(days=1)))
    assert short.late_due == LATE_DUE
    assert penalty_percent(DUE + timedelta(days=1, hours=1), COURSE, short) == 10


def test_exceptions_waive_the_penalty_and_raise_the_submission_limit() -> None:
    course = COURSE.model_copy(update={"max_submissions": 2})
    ext = StudentException(waive_penalty=True, max_submissions=5)
    dates = student_dates(course, ext)
    assert penalty_percent(DUE + timedelta(days=2), course, dates) == 0
    assert upload_refusal(DUE, dates, 4) is None
    assert upload_refusal(DUE, student_dates(course, None), 2) == "you have used all 2 submissions"


def test_uploads_are_refused_before_the_release() -> None:
    course = COURSE.model_copy(update={"release_at": DUE - timedelta(days=7)})
    dates = student_dates(course, None)
    assert "not released yet" in (upload_refusal(DUE - timedelta(days=8), dates, 0) or "")
    assert upload_refusal(DUE - timedelta(days=7), dates, 0) is None


def test_release_waits_for_every_extension_and_never_comes_earlier() -> None:
    assert release_date(COURSE, []) == DUE
    assert release_date(COURSE, [StudentException(due=DUE - timedelta(days=1))]) == DUE
    assert release_date(
        COURSE, [StudentException(due=DUE + timedelta(days=2)), StudentException(note="x")]
    ) == DUE + timedelta(days=2)
    assert release_date(CourseSettings(), [StudentException(due=DUE)]) is None


def test_final_grade_is_raw_plus_adjustments_minus_the_penalty_of_the_adjusted_grade() -> None:
    grade = final_grade(70, 100, 10, 20)
    assert (grade.raw, grade.adjustments, grade.penalty, grade.final) == (70, 10, 16, 64)
    assert final_grade(5, 100, -10, 0).final == 0  # never below zero
    assert final_grade(None, 100, 3, 0).final is None


def _c(sub_id: str, day: int, final: float | None) -> Candidate:
    return Candidate(sub_id, DUE + timedelta(days=day), final)


@pytest.mark.parametrize(
    ("rule", "active", "expected"),
    [
        (Counting.latest, None, "late"),
        (Counting.best, None, "first"),
        (Counting.latest_before_due, None, "on_time"),
        (Counting.active, "first", "first"),
        (Counting.active, None, "late"),
        (Counting.active, "deleted", "late"),
    ],
)
def test_which_submission_counts(rule: Counting, active: str | None, expected: str) -> None:
    subs = [_c("first", -2, 100), _c("on_time", 0, 70), _c("late", 1, 80)]  # on_time exactly at the due date
    chosen = counted(subs, rule, DUE, active)
    assert chosen is not None and chosen.id == expected


def test_counting_edge_cases() -> None:
    assert counted([], Counting.best, DUE, None) is None
    late_only = [_c("a", 1, 50), _c("b", 2, None)]
    assert counted(late_only, Counting.latest_before_due, DUE, None).id == "b"  # type: ignore[union-attr]
    assert counted(late_only, Counting.best, DUE, None).id == "a"  # type: ignore[union-attr]
    assert counted([_c("a", 0, None)], Counting.best, DUE, None).id == "a"  # type: ignore[union-attr]
    tie = [_c("old", -2, 90), _c("new", -1, 90)]
    assert counted(tie, Counting.best, DUE, None).id == "new"  # type: ignore[union-attr]
