"""Gradescope's ``results.json``: a strict model of its keys, built from a report or, fail closed, from a message.

Only Gradescope's own keys are modelled (``extra="forbid"``), so no staff field of a :class:`GradeReport`
(``staff_output``, sandbox records, limits) can reach a file that students' pages are built from.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.authoring.checks import CheckSpec
from grader.models.manifest import Policy, SuiteManifest
from grader.models.report import GradeReport, OutputFormat
from grader.models.visibility import Visibility


class GradescopeTest(BaseModel):
    """One ``tests[]`` entry of Gradescope's results.json."""

    model_config = ConfigDict(extra="forbid")

    name: str
    number: str
    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    status: Literal["passed", "failed"]
    output: str = ""
    output_format: OutputFormat = OutputFormat.text
    tags: list[str] = []
    visibility: Visibility = Visibility.visible
    extra_data: dict[str, Any] = {}


class GradescopeResults(BaseModel):
    """The whole results.json; the score is always the sum of the tests' scores."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=0)
    execution_time: float = Field(ge=0, description="Seconds, wall clock, for the whole run.")
    output: str = ""
    output_format: OutputFormat = OutputFormat.text
    visibility: Visibility = Visibility.visible
    stdout_visibility: Visibility = Visibility.hidden
    tests: list[GradescopeTest] = []
    leaderboard: list[dict[str, Any]] = []
    extra_data: dict[str, Any] = {}

    @model_validator(mode="after")
    def _adds_up(self) -> GradescopeResults:
        if self.tests and abs(sum(t.score for t in self.tests) - self.score) > 1e-6:
            raise ValueError("results.json score is not the sum of its tests' scores")
        return self


def from_report(report: GradeReport, execution_time: float, manifest: SuiteManifest | None = None) -> GradescopeResults:
    """The report's Gradescope keys, the stdout (staff details) hidden from students, and the checks
    scored against hidden labels released only when the manifest's policy says (see :func:`withhold_labels`)."""
    data = report.gradescope_json()
    if manifest is not None:
        data["tests"] = withhold_labels(report, data["tests"], manifest.policy)
    notes = [n for n in [report.output, *report.unpack_notes] if n]
    data |= {
        "output": "\n".join(notes),
        "execution_time": round(execution_time, 3),
        "stdout_visibility": Visibility.hidden.value,
        "extra_data": {"status": report.status.value, "grader_version": report.grader_version, **report.extra_data},
    }
    return GradescopeResults.model_validate(data)


def withhold_labels(report: GradeReport, tests: list[dict[str, Any]], policy: Policy) -> list[dict[str, Any]]:
    """Gradescope applies the visibility itself: a hidden-label check gets the policy's (``after_due_date``
    or ``after_published``; ``hidden`` where its own visibility asks for another release), and a visible
    0-point entry says when its result comes, with what the check marked as well formed (passed if it did)."""
    out: list[dict[str, Any]] = []
    for test, entry in zip(report.tests, tests, strict=True):
        if not policy.withholds(test.number, test.hidden_labels):
            out.append(entry)
            continue
        own = Visibility(entry["visibility"])
        entry["visibility"] = (
            policy.release if own in (Visibility.visible, policy.release) else Visibility.hidden
        ).value
        said = [test.pre_release_output, policy.pending_note]
        if own == Visibility.visible:
            out.append(
                {
                    "name": f"{test.name} (before the release)",
                    "number": test.number,
                    "score": 0,
                    "max_score": 0,
                    "status": "passed" if test.pre_release_output else "failed",
                    "output": "\n".join(t for t in said if t),
                    "tags": entry["tags"],
                    "visibility": Visibility.visible.value,
                }
            )
        out.append(entry)
    return out


def fail_closed(message: str, checks: Sequence[CheckSpec], execution_time: float, reason: str) -> GradescopeResults:
    """Score 0 with ``message``: every known check is listed as not run, so students see what was missed."""
    tests = [
        GradescopeTest(
            name=c.name,
            number=c.number,
            score=0,
            max_score=c.points,
            status="failed",
            output="Not run: this submission was not graded (see the message above).",
            tags=list(c.tags),
            visibility=c.visibility,
        )
        for c in checks
    ]
    return GradescopeResults(
        score=0, execution_time=round(execution_time, 3), output=message, tests=tests, extra_data={"status": reason}
    )


def write_results(path: Path, results: GradescopeResults) -> None:
    """Write ``results`` to ``path`` atomically: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(results.model_dump_json(indent=2) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
