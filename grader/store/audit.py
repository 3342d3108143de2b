"""The audit log: every staff act (who, when, what, on what, before and after), kept in Redis.

Keys (prefix ``grader:``):
- ``audit``    list of JSON-encoded ``AuditEntry``, oldest first (appended, never rewritten)

Entries are never edited or expired: the log is what staff answer to when a grade is questioned.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import BaseModel, Field

from grader.store.records import Token
from grader.store.submissions import P, Store

AUDIT_KEY = f"{P}audit"


class AuditEntry(BaseModel):
    """One staff act."""

    id: str
    at: datetime
    actor: str = Field(description="Who acted: '<role>:<name>' of the token (or 'cli:<user>' for the command line).")
    action: str = Field(description="What was done, dotted: 'settings.update', 'extension.set', 'adjustment.add', ...")
    target: str = Field(description="What it was done to: an assignment id, 'assignment/student', a submission id.")
    assignment: str = Field("", description="The assignment concerned, when there is one (for filtering).")
    before: Any = None
    after: Any = None


def actor_of(user: Token) -> str:
    """How a token's holder is named in the log."""
    return f"{user.role.value}:{user.subject}"


def record(
    store: Store,
    actor: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    *,
    assignment: str = "",
    when: datetime | None = None,
) -> AuditEntry:
    """Append one act to the log; ``before``/``after`` are anything JSON can hold (None: nothing)."""
    entry = AuditEntry(
        id=uuid.uuid4().hex,
        at=when or datetime.now(UTC),
        actor=actor,
        action=action,
        target=target,
        assignment=assignment,
        before=before,
        after=after,
    )
    store.r.rpush(AUDIT_KEY, entry.model_dump_json())
    return entry


def entries(
    store: Store, *, assignment: str | None = None, offset: int = 0, limit: int | None = None
) -> list[AuditEntry]:
    """The log newest first, optionally of one assignment, paged by ``offset``/``limit``."""
    raw = cast("list[str]", store.r.lrange(AUDIT_KEY, 0, -1))  # decode_responses=True: a list of str
    found = [AuditEntry.model_validate_json(r) for r in reversed(raw)]
    if assignment is not None:
        found = [e for e in found if e.assignment == assignment]
    return found[offset:] if limit is None else found[offset : offset + limit]


def count(store: Store) -> int:
    return int(store.r.llen(AUDIT_KEY))
