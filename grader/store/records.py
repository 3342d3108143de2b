"""What the store keeps, as pydantic models (one per Redis record)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Role(StrEnum):
    student = "student"
    ta = "ta"
    ci = "ci"


class SubmissionState(StrEnum):
    # received: recorded, its grading task not yet known to be sent (the janitor sends it if the API stopped)
    received = "received"
    queued = "queued"
    running = "running"
    done = "done"
    error = "error"


class Submission(BaseModel):
    """One upload and the state of its grading; the report itself lives under its own key."""

    id: str
    assignment: str
    student: str = Field(description="Who submitted: a student id, or a TA's/CI token's name.")
    role: Role
    blob_sha256: str
    filename: str
    size_bytes: int
    state: SubmissionState = SubmissionState.queued
    queue: str = "cpu"
    received_at: datetime
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    late: bool = False
    attempts: int = Field(0, description="Grading runs started for the current run_id (poison guard).")
    run_id: str = Field(description="Identifies the current grading request; a regrade issues a new one.")
    progress_done: int = 0
    progress_total: int = 0
    progress_current: str = ""
    progress_current_visibility: str = Field(
        "", description="The current check's visibility; students' pages name only visible checks."
    )
    error: str = ""
    score: float | None = None
    max_score: float | None = None


class ReportVersion(BaseModel):
    """One grading run's report, kept when a regrade writes the next (version 1 is the first run's)."""

    version: int = Field(description="1 for the first report, counting up with each regrade.")
    run_id: str = Field(description="The grading run that wrote it ('' for a report kept from before versions were).")
    finished_at: datetime | None
    state: SubmissionState
    score: float | None = None
    max_score: float | None = None
    report: str = Field(description="The engine's JSON report, as stored.")


class Token(BaseModel):
    """A hashed API token's meaning: who it is and what it may do."""

    role: Role
    subject: str = Field(description="Student id for students; a label for TA and CI tokens.")
    created_at: datetime
    expires_at: datetime | None = Field(
        None, description="After this instant the token is refused; None: it does not expire."
    )
