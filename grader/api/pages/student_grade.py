"""The "Your grade" section of a student's submission page: the API's grade of the submission (its
withholding rule, reused as is), and how late the upload was against the student's own due date."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from fastapi import HTTPException

from grader.api.deps import Services
from grader.api.routes.grading import submission_grade
from grader.course.policy import is_late, student_dates
from grader.store.course import CourseStore
from grader.store.records import Role, Token


def late_by(delta: timedelta) -> str:
    """A lateness as a student reads it: "1 day 2 hours 5 minutes" (started minutes count, like the penalty's units)."""
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = ((days, "day"), (hours, "hour"), (mins, "minute"))
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in units if n)


def _lateness(services: Services, submission_id: str) -> dict[str, Any] | None:
    """How late the upload was after the student's due date (their extension included); None when on time."""
    sub = services.store.get(submission_id)
    manifest = services.manifests.get(sub.assignment) if sub else None
    if sub is None or manifest is None:
        return None
    course = CourseStore(services.store)
    dates = student_dates(course.settings(manifest), course.exception(manifest.id, sub.student))
    if dates.due is None or not is_late(sub.received_at, dates):
        return None
    return {"due": dates.due, "by": late_by(sub.received_at - dates.due), "waived": dates.waive_penalty}


def grade_view(services: Services, user: Token, submission_id: str) -> dict[str, Any] | None:
    """What the section shows, or None for staff (their grading page has it) and a submission without a grade.

    ``submission_grade`` decides what the student may see, as ``GET /submissions/{id}/grade`` does: while their
    report withholds a check, no figures and no adjustments (``grade`` is None), only the TA's comments.
    """
    if user.role != Role.student:
        return None
    try:
        grade = submission_grade(services, submission_id, user)
    except HTTPException:
        return None  # another student's (the page already answered 404) or its assignment is gone
    shown = grade.grade is not None
    return {
        "shown": shown,
        "parts": grade.grade,
        "adjustments": grade.adjustments,
        "comments": grade.comments,
        "counts": grade.counts,
        "late": _lateness(services, submission_id) if shown else None,
    }
