"""The audit log (TA): every staff act, newest first, as JSON pages or one CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated

from fastapi import APIRouter, Query, Response

from grader.api.deps import ServicesDep, StaffUser
from grader.store import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[audit.AuditEntry])
def list_audit(
    user: StaffUser,
    services: ServicesDep,
    assignment: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[audit.AuditEntry]:
    """Staff acts newest first (who, when, what, on what, before and after), optionally of one assignment."""
    return audit.entries(services.store, assignment=assignment, offset=offset, limit=limit)


def audit_csv_text(entries: list[audit.AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["at", "actor", "action", "target", "assignment", "before", "after"])
    for e in entries:
        writer.writerow(
            [
                e.at.isoformat(),
                e.actor,
                e.action,
                e.target,
                e.assignment,
                json.dumps(e.before, sort_keys=True),
                json.dumps(e.after, sort_keys=True),
            ]
        )
    return out.getvalue()


@router.get(".csv", response_class=Response)
def audit_csv(user: StaffUser, services: ServicesDep, assignment: str | None = None) -> Response:
    """The whole log (or one assignment's) as CSV, newest first."""
    return Response(
        audit_csv_text(audit.entries(services.store, assignment=assignment)),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
