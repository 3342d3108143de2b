"""Grades from the store: each submission's parts, the one that counts per student, the gradebook."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.course.policy import (
    Candidate,
    CourseSettings,
    Grade,
    StudentException,
    counted,
    final_grade,
    penalty_percent,
    release_date,
    student_dates,
)
from grader.models.manifest import SuiteManifest
from grader.store.course import Adjustment, Comment, CourseStore
from grader.store.records import Role, Submission, SubmissionState


def visibility_manifest(
    manifest: SuiteManifest, settings: CourseSettings, exceptions: list[StudentException]
) -> SuiteManifest:
    """The manifest the student views' visibility rules read: the runtime release date (the latest due
    date, extensions included, the same for every student) and publishing, in place of ``suite.toml``'s."""
    return manifest.model_copy(
        update={
            "due_date": release_date(settings, exceptions),
            "closes_at": settings.late_due,
            "published": settings.published,
        }
    )


@dataclass(frozen=True)
class SubmissionGrade:
    """One submission's grade with what it is made of."""

    submission: Submission
    grade: Grade
    adjustments: list[Adjustment] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)


def grade_of(
    course: CourseStore, settings: CourseSettings, exc: StudentException | None, sub: Submission
) -> SubmissionGrade:
    adjustments = course.adjustments(sub.id)
    raw = sub.score if sub.state == SubmissionState.done else None
    percent = penalty_percent(sub.received_at, settings, student_dates(settings, exc))
    grade = final_grade(raw, sub.max_score, round(sum(a.points for a in adjustments), 2), percent)
    return SubmissionGrade(sub, grade, adjustments, course.comments(sub.id))


@dataclass(frozen=True)
class StudentGrade:
    student: str
    counted: SubmissionGrade | None
    submissions: int
    exception: StudentException | None


def student_grade(
    course: CourseStore, manifest: SuiteManifest, settings: CourseSettings, student: str, subs: list[Submission]
) -> StudentGrade:
    """The counting rule applied to one student's submissions."""
    exc = course.exception(manifest.id, student)
    graded = {s.id: grade_of(course, settings, exc, s) for s in subs}
    candidates = [Candidate(s.id, s.received_at, graded[s.id].grade.final) for s in subs]
    dates = student_dates(settings, exc)
    chosen = counted(candidates, settings.counting, dates.due, course.active(manifest.id, student))
    return StudentGrade(student, graded[chosen.id] if chosen else None, len(subs), exc)


def gradebook(course: CourseStore, manifest: SuiteManifest) -> list[StudentGrade]:
    """One row per student on the roster or who submitted (staff uploads are not students)."""
    settings = course.settings(manifest)
    by_student: dict[str, list[Submission]] = {s: [] for s in course.store.roster(manifest.id)}
    for sub in course.store.submissions(manifest.id):
        if sub.role == Role.student:
            by_student.setdefault(sub.student, []).append(sub)
    return [student_grade(course, manifest, settings, s, by_student[s]) for s in sorted(by_student)]
