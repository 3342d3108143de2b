"""Regrade requests: a student asks (with a message), a TA answers by re-running, adjusting or declining."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from grader.api.deps import CurrentUser, ManifestDep, Services, ServicesDep, StaffUser
from grader.api.errors import responses
from grader.api.routes.submissions import get_submission, regrade
from grader.api.schemas import ReportPublic
from grader.store import reports
from grader.store.audit import actor_of
from grader.store.course import CourseStore
from grader.store.records import Role, Submission, Token
from grader.store.regrades import RegradeRequest, RegradeRequests, RequestState

router = APIRouter(tags=["regrade requests"])


class RegradeRequestIn(BaseModel):
    message: str = Field(
        min_length=1, max_length=5000, description="What the student thinks was graded wrong, and why."
    )
    check: str = Field(
        "",
        max_length=100,
        description="The check asked about (its number, as the report shows it); empty: the whole submission.",
    )


class RegradeAnswer(BaseModel):
    """A TA's answer: ``rerun`` grades the submission again, ``adjust`` adds ``points`` (on ``check``, or the
    total), ``decline`` keeps the grade; ``answer`` is what the student reads (required to decline)."""

    model_config = {"extra": "forbid"}

    action: Literal["rerun", "adjust", "decline"]
    answer: str = Field("", max_length=5000)
    check: str = Field("", max_length=100, description="adjust: the check's number; empty: on the total.")
    points: float | None = Field(None, ge=-1000, le=1000, description="adjust: points added (negative: taken).")


def _own_submission(services: Services, submission_id: str, user: Token) -> Submission:
    sub = services.store.get(submission_id)
    if sub is None or (user.role == Role.student and sub.student != user.subject):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Submission not found")
    return sub


@router.post(
    "/submissions/{submission_id}/regrade-requests",
    response_model=RegradeRequest,
    status_code=201,
    responses=responses(401, 403, 404, 409, 422, 503),
)
def ask(submission_id: str, body: RegradeRequestIn, services: ServicesDep, user: CurrentUser) -> RegradeRequest:
    """The submission's student asks for a regrade (one open request per submission at a time)."""
    if user.role != Role.student:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only the student who submitted it may ask for a regrade")
    sub = _own_submission(services, submission_id, user)
    public = get_submission(submission_id, services, user)
    if not isinstance(public.report, ReportPublic):
        raise HTTPException(status.HTTP_409_CONFLICT, "This submission has no report yet; ask once it is graded")
    if body.check and body.check not in {t.number for t in public.report.tests}:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Your report has no check '{body.check}'")
    requests = RegradeRequests(services.store)
    if any(q.state == RequestState.open for q in requests.of_submission(sub.id)):
        raise HTTPException(status.HTTP_409_CONFLICT, "You already have an open regrade request on this submission")
    version = len(reports.versions(services.store, sub.id)) or None
    return requests.create(sub.assignment, sub.id, sub.student, body.message, body.check, actor_of(user), version)


@router.get(
    "/submissions/{submission_id}/regrade-requests",
    response_model=list[RegradeRequest],
    responses=responses(401, 404, 503),
)
def of_submission(submission_id: str, services: ServicesDep, user: CurrentUser) -> list[RegradeRequest]:
    """A submission's requests and their answers, oldest first (its student, or staff)."""
    return RegradeRequests(services.store).of_submission(_own_submission(services, submission_id, user).id)


@router.get(
    "/assignments/{assignment_id}/regrade-requests",
    response_model=list[RegradeRequest],
    responses=responses(401, 403, 404, 503),
)
def of_assignment(
    manifest: ManifestDep,
    services: ServicesDep,
    user: StaffUser,
    state: Annotated[RequestState | None, Query(description="Only requests in this state (e.g. open).")] = None,
) -> list[RegradeRequest]:
    """An assignment's requests, oldest first (TA)."""
    return RegradeRequests(services.store).of_assignment(manifest.id, state)


@router.post(
    "/regrade-requests/{request_id}/resolve",
    response_model=RegradeRequest,
    responses=responses(401, 403, 404, 409, 422, 503),
)
def resolve(request_id: str, body: RegradeAnswer, services: ServicesDep, user: StaffUser) -> RegradeRequest:
    """Answer an open request (TA); each answer is in the audit log."""
    return answer_request(services, user, request_id, body)


def answer_request(services: Services, user: Token, request_id: str, body: RegradeAnswer) -> RegradeRequest:
    """The API's and the TA page's answer to a request."""
    requests = RegradeRequests(services.store)
    req = requests.get(request_id)
    if req is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Regrade request not found")
    if req.state != RequestState.open:
        raise HTTPException(status.HTTP_409_CONFLICT, f"This request was already answered ({req.state.value})")
    actor = actor_of(user)
    if body.action == "decline":
        if not body.answer.strip():
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Declining needs an answer for the student")
        return requests.resolve(req, RequestState.declined, body.answer, actor)
    if body.action == "adjust":
        if body.points is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "An adjustment needs its points")
        reason = body.answer.strip() or f"Regrade request: {req.message}"
        adj = CourseStore(services.store).add_adjustment(
            req.assignment, req.submission_id, body.check, body.points, reason[:2000], actor
        )
        return requests.resolve(req, RequestState.adjusted, body.answer, actor, adjustment_id=adj.id)
    regrade(req.submission_id, services, user)
    sub = services.store.get(req.submission_id)
    return requests.resolve(req, RequestState.rerun, body.answer, actor, run_id=sub.run_id if sub else "")
