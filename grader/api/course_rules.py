"""Where the course's runtime settings meet the existing paths: the upload's dates and limits, and the
dates the student views' visibility rules read. Each is one call from the route it serves."""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException, status

from grader.api.deps import Services
from grader.course.grades import visibility_manifest
from grader.course.policy import student_dates, upload_refusal
from grader.models.manifest import SuiteManifest
from grader.store.course import CourseStore, upload_context
from grader.store.records import Role, Token


def upload_manifest(services: Services, manifest: SuiteManifest, user: Token, received: datetime) -> SuiteManifest:
    """The manifest an upload is admitted and marked late by: the uploader's due and late-due dates (a
    student's extension applied) as ``due_date`` and ``closes_at``. A student's upload before the release
    (409) or past their submission limit (429) is refused here; one round trip."""
    settings, exc, uploads = upload_context(services.store.r, manifest, user.subject)
    dates = student_dates(settings, exc if user.role == Role.student else None)
    if user.role == Role.student:
        refusal = upload_refusal(received, dates, uploads)
        if refusal is not None and refusal != "closed to submissions":  # closing is _admit's, after the roster check
            code = status.HTTP_429_TOO_MANY_REQUESTS if "submissions" in refusal else status.HTTP_409_CONFLICT
            raise HTTPException(code, f"Assignment '{manifest.id}': {refusal}")
    return manifest.model_copy(update={"due_date": dates.due, "closes_at": dates.late_due})


def student_view_manifest(services: Services, manifest: SuiteManifest) -> SuiteManifest:
    """The manifest a student's report is filtered by: the runtime settings' release date (the latest due
    date, every extension included, alike for all students) and publishing."""
    course = CourseStore(services.store)
    return visibility_manifest(manifest, course.settings(manifest), list(course.exceptions(manifest.id).values()))
