"""A submission's report versions (TA): every grading run's report is kept; list, open and compare them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from grader.api.deps import Services, ServicesDep, StaffUser
from grader.api.errors import responses
from grader.course.report_diff import ReportComparison, compare
from grader.models.report import GradeReport
from grader.store import reports
from grader.store.records import ReportVersion, SubmissionState

router = APIRouter(prefix="/submissions/{submission_id}/reports", tags=["grading"])


class ReportVersionSummary(BaseModel):
    version: int
    run_id: str
    finished_at: datetime | None
    state: SubmissionState
    score: float | None
    max_score: float | None
    current: bool = Field(description="The version the submission's status (and its student) shows.")


def _versions(services: Services, submission_id: str) -> list[ReportVersion]:
    if services.store.get(submission_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Submission not found")
    return reports.versions(services.store, submission_id)


def _version(services: Services, submission_id: str, number: int) -> ReportVersion:
    found = _versions(services, submission_id)
    if not 1 <= number <= len(found):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Report version {number} not found")
    return found[number - 1]


@router.get("", response_model=list[ReportVersionSummary], responses=responses(401, 403, 404, 503))
def list_versions(submission_id: str, services: ServicesDep, user: StaffUser) -> list[ReportVersionSummary]:
    """Every report the submission has had, oldest first; the last is the current one (TA)."""
    found = _versions(services, submission_id)
    return [ReportVersionSummary(**v.model_dump(exclude={"report"}), current=v.version == len(found)) for v in found]


@router.get("/compare", response_model=ReportComparison, responses=responses(401, 403, 404, 503))
def compare_versions(
    submission_id: str,
    services: ServicesDep,
    user: StaffUser,
    before: Annotated[int, Query(ge=1, description="The earlier version.")],
    after: Annotated[int | None, Query(ge=1, description="The later version (default: the current).")] = None,
) -> ReportComparison:
    """Two versions check by check: scores, results and whether each changed (TA)."""
    newest = len(_versions(services, submission_id))
    a, b = _version(services, submission_id, before), _version(services, submission_id, after or newest)
    return compare(
        GradeReport.model_validate_json(a.report), GradeReport.model_validate_json(b.report), a.version, b.version
    )


@router.get("/{version}", response_model=GradeReport, responses=responses(401, 403, 404, 503))
def get_version(submission_id: str, version: int, services: ServicesDep, user: StaffUser) -> GradeReport:
    """One version's complete report, as staff see the current one (TA)."""
    return GradeReport.model_validate_json(_version(services, submission_id, version).report)
