"""A course's runtime state in Redis: settings with their history, extensions, TA adjustments and comments,
and the submission each student marked active. Every staff change is also written to the audit log.

Keys (prefix ``grader:``):
- ``course:<aid>:settings``           JSON object of the fields changed at runtime (over ``suite.toml``'s defaults)
- ``course:<aid>:settings:history``   list of JSON ``{at, by, before, after}``, oldest first
- ``course:<aid>:exceptions``         hash student -> JSON ``StudentException``
- ``course:<aid>:active``             hash student -> submission id the student marked active
- ``adjust:<sub_id>``                 hash adjustment id -> JSON ``Adjustment``
- ``comments:<sub_id>``               list of JSON ``Comment``, oldest first
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import redis
from pydantic import BaseModel, Field

from grader.course.policy import CourseSettings, StudentException, defaults
from grader.models.manifest import SuiteManifest
from grader.store import audit
from grader.store.submissions import P, Store


class Adjustment(BaseModel):
    """A TA's change to a submission's score: on one check (its number) or on the total (``check`` empty)."""

    id: str
    check: str = ""
    points: float
    reason: str = Field(min_length=1)
    by: str
    at: datetime


class Comment(BaseModel):
    """A TA's comment on a submission; its student sees it."""

    id: str
    text: str = Field(min_length=1)
    by: str
    at: datetime


class SettingsChange(BaseModel):
    at: datetime
    by: str
    before: CourseSettings
    after: CourseSettings


def _settings_key(aid: str) -> str:
    return f"{P}course:{aid}:settings"


def _exceptions_key(aid: str) -> str:
    return f"{P}course:{aid}:exceptions"


def _active_key(aid: str) -> str:
    return f"{P}course:{aid}:active"


def _merge(manifest: SuiteManifest, raw: str | None) -> CourseSettings:
    overrides = json.loads(raw) if raw else {}
    return CourseSettings.model_validate({**defaults(manifest).model_dump(), **overrides})


def _dump(model: BaseModel | None) -> Any:
    return None if model is None else model.model_dump(mode="json")


class CourseStore:
    """The course's records on the store's Redis connection."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.r = store.r

    # -- settings -------------------------------------------------------------------------

    def settings(self, manifest: SuiteManifest) -> CourseSettings:
        return _merge(manifest, cast("str | None", self.r.get(_settings_key(manifest.id))))

    def update_settings(self, manifest: SuiteManifest, changes: dict[str, Any], actor: str) -> CourseSettings:
        """Apply ``changes`` (validated against the whole settings) and record them in the history and the log."""
        before = self.settings(manifest)
        after = CourseSettings.model_validate({**before.model_dump(), **changes})
        stored = json.loads(cast("str | None", self.r.get(_settings_key(manifest.id))) or "{}")
        stored.update({k: v for k, v in after.model_dump(mode="json").items() if k in changes})
        change = SettingsChange(at=datetime.now(UTC), by=actor, before=before, after=after)
        with self.r.pipeline() as pipe:
            pipe.set(_settings_key(manifest.id), json.dumps(stored))
            pipe.rpush(f"{_settings_key(manifest.id)}:history", change.model_dump_json())
            pipe.execute()
        audit.record(
            self.store, actor, "settings.update", manifest.id, _dump(before), _dump(after), assignment=manifest.id
        )
        return after

    def settings_history(self, manifest: SuiteManifest) -> list[SettingsChange]:
        raw = cast("list[str]", self.r.lrange(f"{_settings_key(manifest.id)}:history", 0, -1))
        return [SettingsChange.model_validate_json(r) for r in raw]

    # -- extensions and exceptions ----------------------------------------------------------

    def exception(self, aid: str, student: str) -> StudentException | None:
        raw = cast("str | None", self.r.hget(_exceptions_key(aid), student))
        return StudentException.model_validate_json(raw) if raw else None

    def exceptions(self, aid: str) -> dict[str, StudentException]:
        raw = cast("dict[str, str]", self.r.hgetall(_exceptions_key(aid)))
        return {s: StudentException.model_validate_json(v) for s, v in sorted(raw.items())}

    def set_exception(self, aid: str, student: str, exc: StudentException | None, actor: str) -> None:
        """Grant, change or (``None``) withdraw a student's extension and exceptions."""
        before = self.exception(aid, student)
        if exc is None:
            self.r.hdel(_exceptions_key(aid), student)
        else:
            self.r.hset(_exceptions_key(aid), student, exc.model_dump_json())
        action = "extension.delete" if exc is None else "extension.set"
        audit.record(self.store, actor, action, f"{aid}/{student}", _dump(before), _dump(exc), assignment=aid)

    # -- adjustments and comments -------------------------------------------------------------

    def adjustments(self, sub_id: str) -> list[Adjustment]:
        raw = cast("dict[str, str]", self.r.hgetall(f"{P}adjust:{sub_id}"))
        return sorted((Adjustment.model_validate_json(v) for v in raw.values()), key=lambda a: a.at)

    def add_adjustment(self, aid: str, sub_id: str, check: str, points: float, reason: str, actor: str) -> Adjustment:
        adj = Adjustment(
            id=uuid.uuid4().hex[:12], check=check, points=points, reason=reason, by=actor, at=datetime.now(UTC)
        )
        self.r.hset(f"{P}adjust:{sub_id}", adj.id, adj.model_dump_json())
        audit.record(self.store, actor, "adjustment.add", sub_id, None, _dump(adj), assignment=aid)
        return adj

    def remove_adjustment(self, aid: str, sub_id: str, adj_id: str, actor: str) -> bool:
        raw = cast("str | None", self.r.hget(f"{P}adjust:{sub_id}", adj_id))
        if raw is None:
            return False
        self.r.hdel(f"{P}adjust:{sub_id}", adj_id)
        audit.record(self.store, actor, "adjustment.delete", sub_id, json.loads(raw), None, assignment=aid)
        return True

    def comments(self, sub_id: str) -> list[Comment]:
        return [
            Comment.model_validate_json(r) for r in cast("list[str]", self.r.lrange(f"{P}comments:{sub_id}", 0, -1))
        ]

    def add_comment(self, aid: str, sub_id: str, text: str, actor: str) -> Comment:
        comment = Comment(id=uuid.uuid4().hex[:12], text=text, by=actor, at=datetime.now(UTC))
        self.r.rpush(f"{P}comments:{sub_id}", comment.model_dump_json())
        audit.record(self.store, actor, "comment.add", sub_id, None, _dump(comment), assignment=aid)
        return comment

    # -- the student's choice -------------------------------------------------------------------

    def active(self, aid: str, student: str) -> str | None:
        return cast("str | None", self.r.hget(_active_key(aid), student))

    def set_active(self, aid: str, student: str, sub_id: str) -> None:
        self.r.hset(_active_key(aid), student, sub_id)


def upload_context(
    r: redis.Redis, manifest: SuiteManifest, student: str
) -> tuple[CourseSettings, StudentException | None, int]:
    """What the upload path needs, in one round trip: the settings, the student's exception and how many
    uploads they have made."""
    with r.pipeline(transaction=False) as pipe:
        pipe.get(_settings_key(manifest.id))
        pipe.hget(_exceptions_key(manifest.id), student)
        pipe.zcard(f"{P}asg:{manifest.id}:by:{student}")
        raw, exc, count = pipe.execute()
    return _merge(manifest, raw), StudentException.model_validate_json(exc) if exc else None, int(count)
