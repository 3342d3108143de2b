"""Every report a submission has had: the versions each grading run appended (``Store.finish`` writes them)."""

from __future__ import annotations

from typing import cast

from grader.store.records import ReportVersion, SubmissionState
from grader.store.submissions import Store, versions_key


def versions(store: Store, sub_id: str) -> list[ReportVersion]:
    """Oldest first, the current one last. A report written before versions were kept is version 1."""
    raw = cast("list[str]", store.r.lrange(versions_key(sub_id), 0, -1))  # decode_responses=True: a list of str
    if raw:
        return [ReportVersion.model_validate_json(r) for r in raw]
    current, sub = store.report(sub_id), store.get(sub_id)
    if current is None or sub is None:
        return []
    return [
        ReportVersion(
            version=1,
            run_id="",
            finished_at=sub.finished_at,
            state=SubmissionState.done,
            score=sub.score,
            max_score=sub.max_score,
            report=current,
        )
    ]


def version(store: Store, sub_id: str, number: int) -> ReportVersion | None:
    """Version ``number`` (1 is the first), or None."""
    if number < 1:
        return None
    found = versions(store, sub_id)
    return found[number - 1] if number <= len(found) else None
