"""Regrade requests: a student asks about a graded submission, a TA answers (re-run, adjust or decline).
Every act is written to the audit log.

Keys (prefix ``grader:``):
- ``regreq:<id>``                JSON ``RegradeRequest``
- ``regreqs:sub:<sub_id>``       list of request ids of a submission, oldest first
- ``regreqs:asg:<aid>``          sorted set of an assignment's request ids by when they were made
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import cast

from pydantic import BaseModel, Field

from grader.store import audit
from grader.store.submissions import P, Store


class RequestState(StrEnum):
    open = "open"
    rerun = "rerun"  # graded again; the new report is the next version
    adjusted = "adjusted"  # a TA adjustment was added
    declined = "declined"


class RegradeRequest(BaseModel):
    """A student's question about a grade, and the TA's answer."""

    id: str
    submission_id: str
    assignment: str
    student: str
    check: str = Field("", description="The check asked about (its number); empty: the whole submission.")
    message: str
    created_at: datetime
    state: RequestState = RequestState.open
    answer: str = Field("", description="The TA's answer, shown to the student.")
    resolved_by: str = ""
    resolved_at: datetime | None = None
    adjustment_id: str = Field("", description="The adjustment an 'adjusted' answer added.")
    run_id: str = Field("", description="The grading run a 'rerun' answer queued.")
    report_version: int | None = Field(None, description="The report version the student was reading when asking.")


def _key(req_id: str) -> str:
    return f"{P}regreq:{req_id}"


class RegradeRequests:
    """Regrade requests on the store's Redis connection."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.r = store.r

    def get(self, req_id: str) -> RegradeRequest | None:
        raw = cast("str | None", self.r.get(_key(req_id)))
        return RegradeRequest.model_validate_json(raw) if raw else None

    def _many(self, ids: list[str]) -> list[RegradeRequest]:
        raw = cast("list[str | None]", self.r.mget([_key(i) for i in ids])) if ids else []
        return [RegradeRequest.model_validate_json(r) for r in raw if r]

    def of_submission(self, sub_id: str) -> list[RegradeRequest]:
        """Oldest first."""
        return self._many(cast("list[str]", self.r.lrange(f"{P}regreqs:sub:{sub_id}", 0, -1)))

    def of_assignment(self, aid: str, state: RequestState | None = None) -> list[RegradeRequest]:
        """Oldest first (the queue a TA works through), optionally only those in ``state``."""
        found = self._many(cast("list[str]", self.r.zrange(f"{P}regreqs:asg:{aid}", 0, -1)))
        return [q for q in found if state is None or q.state == state]

    def create(
        self, aid: str, sub_id: str, student: str, message: str, check: str, actor: str, report_version: int | None
    ) -> RegradeRequest:
        req = RegradeRequest(
            id=uuid.uuid4().hex[:12],
            submission_id=sub_id,
            assignment=aid,
            student=student,
            check=check,
            message=message,
            created_at=datetime.now(UTC),
            report_version=report_version,
        )
        with self.r.pipeline() as pipe:
            pipe.set(_key(req.id), req.model_dump_json())
            pipe.rpush(f"{P}regreqs:sub:{sub_id}", req.id)
            pipe.zadd(f"{P}regreqs:asg:{aid}", {req.id: req.created_at.timestamp()})
            pipe.execute()
        audit.record(
            self.store, actor, "regrade_request.create", sub_id, None, req.model_dump(mode="json"), assignment=aid
        )
        return req

    def resolve(
        self,
        req: RegradeRequest,
        state: RequestState,
        answer: str,
        actor: str,
        *,
        adjustment_id: str = "",
        run_id: str = "",
    ) -> RegradeRequest:
        """Record the TA's answer; the caller has checked the request is still open."""
        done = req.model_copy(
            update={
                "state": state,
                "answer": answer,
                "resolved_by": actor,
                "resolved_at": datetime.now(UTC),
                "adjustment_id": adjustment_id,
                "run_id": run_id,
            }
        )
        self.r.set(_key(req.id), done.model_dump_json())
        audit.record(
            self.store,
            actor,
            f"regrade_request.{state.value}",
            req.submission_id,
            req.model_dump(mode="json"),
            done.model_dump(mode="json"),
            assignment=req.assignment,
        )
        return done
