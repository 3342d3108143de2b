"""Course settings and the grade arithmetic, as pure functions of their inputs (no Redis, no clock).

Every datetime is timezone-aware UTC; a naive one is read as UTC (as ``suite.toml``'s dates are).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from grader.models.manifest import SuiteManifest


class LatePolicy(StrEnum):
    none = "none"  # late uploads are flagged, not penalised
    per_day = "per_day"
    per_hour = "per_hour"


class Counting(StrEnum):
    """Which of a student's submissions is graded."""

    latest = "latest"
    best = "best"
    latest_before_due = "latest_before_due"
    active = "active"


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class CourseSettings(BaseModel):
    """An assignment's settings for the term; ``suite.toml`` gives the defaults, TAs change them at runtime."""

    release_at: datetime | None = Field(None, description="Uploads are refused before it (none: released).")
    due: datetime | None = Field(None, description="Uploads after it are late; hidden checks are released after it.")
    late_due: datetime | None = Field(
        None, description="Uploads are refused after it (none: never); a late upload's penalty grows until then."
    )
    late_policy: LatePolicy = LatePolicy.none
    late_percent: float = Field(
        0.0, ge=0, le=100, description="Percent of the grade taken per started day or hour late."
    )
    counting: Counting = Counting.latest
    max_submissions: int | None = Field(None, ge=1, description="Uploads a student may make (none: no limit).")
    published: bool = Field(False, description="Releases 'after_published' checks.")

    _dates = field_validator("release_at", "due", "late_due")(classmethod(lambda cls, v: _utc(v)))


class StudentException(BaseModel):
    """One student's extension and exceptions; unset fields keep the course's value."""

    due: datetime | None = Field(None, description="This student's due date (an extension).")
    late_due: datetime | None = Field(
        None, description="This student's late due date; by default the later of the course's and `due`."
    )
    max_submissions: int | None = Field(None, ge=1)
    waive_penalty: bool = Field(False, description="No late penalty for this student.")
    note: str = Field("", max_length=2000, description="Why (shown to staff only).")

    _dates = field_validator("due", "late_due")(classmethod(lambda cls, v: _utc(v)))


def defaults(manifest: SuiteManifest) -> CourseSettings:
    """The settings ``suite.toml`` implies, before any change made at runtime."""
    return CourseSettings(due=manifest.due_date, late_due=manifest.closes_at, published=manifest.published)


@dataclass(frozen=True)
class Dates:
    """The dates that apply to one student."""

    release_at: datetime | None
    due: datetime | None
    late_due: datetime | None
    max_submissions: int | None
    waive_penalty: bool


def student_dates(course: CourseSettings, exc: StudentException | None) -> Dates:
    """The course's dates with a student's extension applied."""
    if exc is None:
        return Dates(course.release_at, course.due, course.late_due, course.max_submissions, False)
    due = exc.due or course.due
    late_due = exc.late_due
    if late_due is None and course.late_due is not None:
        # An extension past the course's late due date must leave the student a window to upload in.
        late_due = max(course.late_due, due) if due is not None else course.late_due
    return Dates(course.release_at, due, late_due, exc.max_submissions or course.max_submissions, exc.waive_penalty)


def release_date(course: CourseSettings, exceptions: list[StudentException]) -> datetime | None:
    """When due-date-released checks (hidden, after_due_date, hidden-label) are shown to students.

    The latest of the course's due date and every extended one: a student still working under an
    extension must not be able to learn hidden results from a classmate, so an extension delays the
    release for everyone, and never brings it forward for anyone. No due date: never released.
    """
    if course.due is None:
        return None
    return max([course.due, *(e.due for e in exceptions if e.due is not None)])


def is_late(received: datetime, dates: Dates) -> bool:
    """Exactly at the due date is on time."""
    return dates.due is not None and received > dates.due


def upload_refusal(now: datetime, dates: Dates, uploads_so_far: int) -> str | None:
    """Why a student's upload is refused now, or None to accept it."""
    if dates.release_at is not None and now < dates.release_at:
        return f"not released yet: uploads open at {dates.release_at.isoformat()}"
    if dates.late_due is not None and now > dates.late_due:
        return "closed to submissions"
    if dates.max_submissions is not None and uploads_so_far >= dates.max_submissions:
        return f"you have used all {dates.max_submissions} submissions"
    return None


def penalty_percent(received: datetime, course: CourseSettings, dates: Dates) -> float:
    """Percent of the grade a late upload loses: each started day (or hour) after the due date costs
    ``late_percent``, capped at 100; after the late due date everything (100). Never negative."""
    if dates.waive_penalty or not is_late(received, dates):
        return 0.0
    assert dates.due is not None  # is_late
    if dates.late_due is not None and received > dates.late_due:
        return 100.0
    if course.late_policy == LatePolicy.none:
        return 0.0
    unit = timedelta(days=1) if course.late_policy == LatePolicy.per_day else timedelta(hours=1)
    units = math.ceil((received - dates.due) / unit)
    return min(100.0, units * course.late_percent)


@dataclass(frozen=True)
class Grade:
    """A submission's final grade and its parts: final = raw + adjustments - penalty (never below 0)."""

    raw: float | None
    adjustments: float
    penalty: float
    penalty_percent: float
    final: float | None
    max_score: float | None


def final_grade(raw: float | None, max_score: float | None, adjustments: float, percent: float) -> Grade:
    """The penalty is ``percent`` of the adjusted grade; no raw score (not graded yet): no final either."""
    if raw is None:
        return Grade(None, adjustments, 0.0, percent, None, max_score)
    adjusted = max(0.0, raw + adjustments)
    penalty = round(adjusted * percent / 100, 2)
    return Grade(raw, adjustments, penalty, percent, round(adjusted - penalty, 2), max_score)


@dataclass(frozen=True)
class Candidate:
    """One submission as the counting rule sees it."""

    id: str
    received_at: datetime
    final: float | None  # None: not graded (yet, or its grading failed)


def counted(candidates: list[Candidate], rule: Counting, due: datetime | None, active: str | None) -> Candidate | None:
    """The submission that counts under ``rule``; None when the student has none.

    - latest: the newest upload, graded or not.
    - best: the highest final grade (ties: the newer); the newest if none is graded.
    - latest_before_due: the newest at or before the (student's) due date; the newest if none was on time.
    - active: the one the student marked; the newest if they marked none (or one that is gone).
    """
    if not candidates:
        return None
    ordered = sorted(candidates, key=lambda c: c.received_at, reverse=True)
    newest = ordered[0]
    if rule == Counting.best:
        graded = [c for c in ordered if c.final is not None]
        return max(graded, key=lambda c: (c.final, c.received_at)) if graded else newest
    if rule == Counting.latest_before_due and due is not None:
        return next((c for c in ordered if c.received_at <= due), newest)
    if rule == Counting.active and active is not None:
        return next((c for c in ordered if c.id == active), newest)
    return newest
