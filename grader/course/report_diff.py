"""Two reports of one submission side by side, check by check (what a regrade changed)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from grader.models.report import GradeReport


class CheckChange(BaseModel):
    """One check in both reports (``None`` where a report lacks it: the suite gained or lost the check)."""

    number: str
    name: str
    before_score: float | None
    after_score: float | None
    before_result: str | None
    after_result: str | None
    changed: bool = Field(description="The score, result or output differs.")


class ReportComparison(BaseModel):
    before: int = Field(description="The earlier version's number.")
    after: int = Field(description="The later version's number.")
    before_score: float
    after_score: float
    before_status: str
    after_status: str
    checks: list[CheckChange]


def compare(before: GradeReport, after: GradeReport, before_version: int, after_version: int) -> ReportComparison:
    """Every check of either report, in the later report's order then the earlier's leftovers."""
    old = {t.number: t for t in before.tests}
    new = {t.number: t for t in after.tests}
    order = [t.number for t in after.tests] + [n for n in old if n not in new]
    checks = []
    for number in order:
        a, b = old.get(number), new.get(number)
        changed = a is None or b is None or (a.score, a.result, a.output) != (b.score, b.result, b.output)
        name = b.name if b is not None else a.name if a is not None else number
        checks.append(
            CheckChange(
                number=number,
                name=name,
                before_score=a.score if a else None,
                after_score=b.score if b else None,
                before_result=a.result.value if a else None,
                after_result=b.result.value if b else None,
                changed=changed,
            )
        )
    return ReportComparison(
        before=before_version,
        after=after_version,
        before_score=before.score,
        after_score=after.score,
        before_status=before.status.value,
        after_status=after.status.value,
        checks=checks,
    )
