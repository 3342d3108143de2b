"""Submissions: upload, status with the report filtered for the caller, regrade one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, File, HTTPException, Response, UploadFile, status

from grader.api.course_rules import student_view_manifest, upload_manifest
from grader.api.deps import CurrentUser, ManifestDep, Services, ServicesDep, StaffUser, UploadUser, now
from grader.api.errors import responses
from grader.api.layout import layout_problem
from grader.api.queueing import enqueue, submit
from grader.api.routes.assignments import assignment_public
from grader.api.schemas import Progress, SubmissionAccepted, SubmissionPublic, Timestamps
from grader.api.views import student_report
from grader.engine.unpack import UnpackLimits, check_archive
from grader.errors import UnpackError
from grader.models.manifest import SuiteManifest
from grader.models.report import GradeReport
from grader.models.visibility import Visibility
from grader.store import audit
from grader.store.audit import actor_of
from grader.store.blobs import BlobStore, BlobStoreFull, BlobTooLarge
from grader.store.records import Role, Submission, SubmissionState, Token
from grader.store.submissions import Admission

router = APIRouter(tags=["submissions"])

_LOCATION = {"Location": {"description": "The submission's status URL.", "schema": {"type": "string"}}}
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Queued for grading; `Location` is its status URL.", "headers": _LOCATION}
}
# What a form without its file (or with text in its place) is told, rather than a validation list (grader.api.app).
NO_FILE = "The upload has no file: send the zip as the form field 'file' (curl: -F file=@submission.zip)."


# A submission is one file; the token is the only field read, and a few others (a form's submit button)
# are tolerated. Starlette refuses (400) a form with more as soon as the extra part appears.
@router.post(
    "/assignments/{assignment_id}/submissions",
    response_model=SubmissionAccepted,
    status_code=202,
    form_limits={"max_files": 1, "max_fields": 4},
    responses={**_ACCEPTED, **responses(400, 401, 403, 404, 409, 413, 422, 429, 503, 507)},
)
def upload(
    user: UploadUser,
    manifest: ManifestDep,
    services: ServicesDep,
    response: Response,
    file: Annotated[UploadFile, File(description="The submission zip.")],
) -> SubmissionAccepted:
    """Store the zip, validate it, and queue it for grading."""
    accepted = accept_upload(services, manifest, user, file)
    response.headers["Location"] = accepted.status_url
    return accepted


def accept_upload(services: Services, manifest: SuiteManifest, user: Token, file: UploadFile) -> SubmissionAccepted:
    """Admit, check, store and queue one upload (the API's and the pages' upload)."""
    received = now()
    sub_id = services.store.new_id()
    manifest = upload_manifest(services, manifest, user, received)  # the course's runtime dates and limits
    _admit(services, manifest, user, member=sub_id)
    name = _archive_name(file.filename)
    try:
        sha, size = _check_and_keep(services, file, services.settings.upload_max_bytes, name, manifest)
    except HTTPException:
        if user.role == Role.student:
            services.store.release(manifest.id, user.subject, member=sub_id)
        raise
    late = manifest.due_date is not None and received > manifest.due_date
    sub = Submission(
        id=sub_id,
        assignment=manifest.id,
        student=user.subject,
        role=user.role,
        blob_sha256=sha,
        filename=name,
        size_bytes=size,
        received_at=received,
        late=late,
        run_id="",
    )
    return _accepted(submit(services, sub, manifest))


def _admit(services: Services, manifest: SuiteManifest, user: Token, member: str) -> None:
    """Refuse the upload, in this order: not on the roster (403), assignment closed (409), too many (429).
    A student's upload to an open assignment is checked and counted in one atomic step."""
    is_open = assignment_public(manifest).open
    if user.role == Role.student:
        settings, store = services.settings, services.store
        if is_open:
            admitted = store.admit(
                manifest.id, user.subject, settings.rate_limit_count, settings.rate_limit_window_seconds, member
            )
        else:
            admitted = Admission(on_roster=store.on_roster(manifest.id, user.subject))
        if not admitted.on_roster:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"You are not on the roster of '{manifest.id}'")
        if admitted.wait is not None:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"Too many submissions: at most {settings.rate_limit_count} per "
                f"{settings.rate_limit_window_seconds:g} s",
                {"Retry-After": str(int(admitted.wait) + 1)},
            )
    if not is_open:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Assignment '{manifest.id}' is closed to submissions")


# Starlette keeps a multipart file part in memory up to this size (SpooledTemporaryFile), then on disk.
_IN_MEMORY = 1024 * 1024


def _check_and_keep(
    services: Services, file: UploadFile, max_bytes: int, name: str, manifest: SuiteManifest
) -> tuple[str, int]:
    """Reject an oversized, broken or hostile archive (the worker's own checks) or one lacking the
    assignment's required files, then store it durably; (sha256, size). Nothing is stored for a refused
    upload. A small upload is checked from its bytes in memory; a large one from the file Starlette
    spooled it to (never all in memory)."""
    blobs: BlobStore = services.blobs
    if file.size is not None and file.size > max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"Upload larger than {max_bytes} bytes")
    try:
        if file.size is not None and file.size <= _IN_MEMORY:
            data = file.file.read()
            _check(data, name, manifest, services)
            return blobs.put_bytes(data, max_bytes)
        _check(file.file, name, manifest, services)
        file.file.seek(0)
        return blobs.put(file.file, max_bytes)
    except BlobTooLarge:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"Upload larger than {max_bytes} bytes") from None
    except BlobStoreFull:
        raise HTTPException(
            status.HTTP_507_INSUFFICIENT_STORAGE,
            "The server's storage is full; your upload was not saved. Please try again later.",
        ) from None


def _check(archive: bytes | BinaryIO, name: str, manifest: SuiteManifest, services: Services) -> None:
    try:
        check_archive(archive, UnpackLimits(), root_marker=manifest.files.root_marker, name=name)
    except UnpackError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.student_message) from None
    if not isinstance(archive, bytes):
        archive.seek(0)
    problem = layout_problem(archive, manifest, services.manifests.values())
    if problem is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)


def _archive_name(filename: str | None) -> str:
    """The client's file name without folders, as the archive is named on disk (here and in the worker) and
    in messages; ``submission.zip`` when it cannot name a file: empty, ``..``, a NUL byte, over 255 bytes."""
    name = Path(filename or "").name
    if name in ("", "..") or "\0" in name or len(os.fsencode(name)) > 255:
        return "submission.zip"
    return name


def _accepted(sub: Submission, state: SubmissionState | None = None) -> SubmissionAccepted:
    return SubmissionAccepted(
        id=sub.id, state=state or sub.state, status_url=f"/api/v1/submissions/{sub.id}", late=sub.late
    )


def _visible(sub: Submission | None, user: Token) -> Submission:
    # A student asking for someone else's submission gets the same answer as for a missing one.
    if sub is None or (user.role == Role.student and sub.student != user.subject):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Submission not found")
    return sub


@router.get("/submissions/{submission_id}", response_model=SubmissionPublic, responses=responses(401, 404, 503))
def get_submission(submission_id: str, services: ServicesDep, user: CurrentUser) -> SubmissionPublic:
    """State, phase timestamps, live progress and the report filtered for the caller."""
    sub = _visible(services.store.get(submission_id), user)
    raw = services.store.report(sub.id)
    report: object = None
    if raw is not None:
        full = GradeReport.model_validate_json(raw)
        manifest = services.manifests.get(sub.assignment)
        if user.role == Role.student:
            report = student_report(full, student_view_manifest(services, manifest), now()) if manifest else None
        else:
            report = full
    return SubmissionPublic(
        id=sub.id,
        assignment=sub.assignment,
        student=sub.student,
        state=sub.state,
        late=sub.late,
        filename=sub.filename,
        size_bytes=sub.size_bytes,
        error=sub.error,
        attempts=sub.attempts,
        timestamps=Timestamps(
            received=sub.received_at, queued=sub.queued_at, started=sub.started_at, finished=sub.finished_at
        ),
        progress=Progress(
            done=sub.progress_done,
            total=sub.progress_total,
            current=_current_check(sub, user),
            queue_position=services.store.queue_position(sub) if sub.state == "queued" else None,
        ),
        report=report,
    )


def _current_check(sub: Submission, user: Token) -> str:
    # A hidden check's number and title are not shown to students before its results are.
    if sub.progress_current and user.role == Role.student and sub.progress_current_visibility != Visibility.visible:
        return "a hidden check"
    return sub.progress_current


@router.post(
    "/submissions/{submission_id}/regrade",
    response_model=SubmissionAccepted,
    status_code=202,
    responses={**_ACCEPTED, **responses(401, 403, 404, 409, 503)},
)
def regrade_route(submission_id: str, services: ServicesDep, user: StaffUser, response: Response) -> SubmissionAccepted:
    """Grade this submission again with the current suite (TA); ``Location`` is its status URL."""
    accepted = regrade(submission_id, services, user)
    response.headers["Location"] = accepted.status_url
    return accepted


def regrade(submission_id: str, services: Services, user: Token) -> SubmissionAccepted:
    """Queue a new grading run of a submission (the API's and the TA page's regrade)."""
    sub = _visible(services.store.get(submission_id), user)
    manifest = services.manifests.get(sub.assignment)
    if manifest is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Assignment '{sub.assignment}' is no longer installed")
    run_id = enqueue(services, sub, manifest)
    audit.record(
        services.store,
        actor_of(user),
        "regrade.submission",
        sub.id,
        None,
        {"run_id": run_id},
        assignment=sub.assignment,
    )
    return _accepted(sub, SubmissionState.queued)  # or soon: a run whose send failed is sent by the janitor
