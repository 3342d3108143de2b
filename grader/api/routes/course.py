"""A course's term (TA): runtime settings with their history, extensions, the gradebook (JSON and CSV)."""

from __future__ import annotations

import csv
import io
from typing import Literal

from fastapi import APIRouter, HTTPException, Response, status

from grader.api.course_schemas import SettingsPatch, StudentGradePublic, student_grade_public
from grader.api.deps import ManifestDep, ServicesDep, StaffUser
from grader.course.grades import gradebook
from grader.course.policy import CourseSettings, StudentException
from grader.store.audit import actor_of
from grader.store.course import CourseStore, SettingsChange

router = APIRouter(prefix="/assignments/{assignment_id}", tags=["course"])


@router.get("/settings", response_model=CourseSettings)
def get_settings(user: StaffUser, manifest: ManifestDep, services: ServicesDep) -> CourseSettings:
    """The settings in force: `suite.toml`'s defaults with the changes made at runtime (TA)."""
    return CourseStore(services.store).settings(manifest)


@router.patch("/settings", response_model=CourseSettings)
def patch_settings(
    patch: SettingsPatch, user: StaffUser, manifest: ManifestDep, services: ServicesDep
) -> CourseSettings:
    """Change some settings; recorded in their history and the audit log (TA)."""
    changes = patch.model_dump(exclude_unset=True)
    try:
        return CourseStore(services.store).update_settings(manifest, changes, actor_of(user))
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@router.get("/settings/history", response_model=list[SettingsChange])
def settings_history(user: StaffUser, manifest: ManifestDep, services: ServicesDep) -> list[SettingsChange]:
    """Every change of the settings, oldest first, with who made it and the settings before and after (TA)."""
    return CourseStore(services.store).settings_history(manifest)


@router.get("/extensions", response_model=dict[str, StudentException])
def list_extensions(user: StaffUser, manifest: ManifestDep, services: ServicesDep) -> dict[str, StudentException]:
    """Every student's extension and exceptions (TA)."""
    return CourseStore(services.store).exceptions(manifest.id)


@router.put("/extensions/{student}", response_model=StudentException)
def put_extension(
    student: str, body: StudentException, user: StaffUser, manifest: ManifestDep, services: ServicesDep
) -> StudentException:
    """Grant or replace one student's extension and exceptions (TA)."""
    CourseStore(services.store).set_exception(manifest.id, student, body, actor_of(user))
    return body


@router.delete("/extensions/{student}", status_code=204)
def delete_extension(student: str, user: StaffUser, manifest: ManifestDep, services: ServicesDep) -> Response:
    """Withdraw a student's extension and exceptions (TA)."""
    course = CourseStore(services.store)
    if course.exception(manifest.id, student) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"'{student}' has no extension")
    course.set_exception(manifest.id, student, None, actor_of(user))
    return Response(status_code=204)


@router.get("/grades", response_model=list[StudentGradePublic])
def grades(user: StaffUser, manifest: ManifestDep, services: ServicesDep) -> list[StudentGradePublic]:
    """Per student, the submission that counts and its raw score, adjustments, late penalty and final (TA)."""
    return [student_grade_public(s) for s in gradebook(CourseStore(services.store), manifest)]


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@router.get("/gradebook.csv", response_class=Response)
def gradebook_csv(
    user: StaffUser, manifest: ManifestDep, services: ServicesDep, layout: Literal["canvas", "moodle"] = "canvas"
) -> Response:
    """The grades for a gradebook import (TA): Canvas (`Student`, `SIS User ID`, a `Points Possible` row, the
    final grade under the assignment's name) or Moodle (`ID number`, the final grade); both followed by
    the parts (raw, adjustments, late penalty) and the counted submission."""
    rows = gradebook(CourseStore(services.store), manifest)
    column = f"{manifest.title} ({manifest.id})"
    parts = ["Raw score", "Adjustments", "Late penalty", "Late penalty %", "Submission", "Submitted at"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if layout == "canvas":
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column, *parts])
        writer.writerow(["Points Possible", "", "", "", "", _num(manifest.total_points), *[""] * len(parts)])
    else:
        writer.writerow(["ID number", column, *parts])
    for row in rows:
        g = row.counted
        cells = (
            [
                _num(g.grade.final),
                _num(g.grade.raw),
                _num(g.grade.adjustments),
                _num(g.grade.penalty),
                _num(g.grade.penalty_percent),
                g.submission.id,
                g.submission.received_at.isoformat(),
            ]
            if g
            else [""] * 7
        )
        ident = [row.student, "", row.student, row.student, ""] if layout == "canvas" else [row.student]
        writer.writerow([*ident, *cells])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{manifest.id}-{layout}.csv"'},
    )
