"""Redis persistence: the only module that knows key names. Nothing expires by default.

Keys (prefix ``grader:``):
- ``sub:<id>``                   hash, one JSON-encoded field per ``Submission`` field
- ``report:<id>``                the engine's JSON report (written once per grading run): the current one
- ``report:<id>:versions``       list of JSON ``ReportVersion``, oldest first: every run's report, the current last
- ``asg:<aid>:subs``             sorted set of submission ids by received time
- ``asg:<aid>:by:<student>``     the same, per submitter
- ``asg:<aid>:submitters``       set of submitter ids
- ``queue:<queue>``              sorted set of waiting submission ids (queue positions)
- ``received``                   sorted set of runs recorded but not yet known to be sent, by when (the janitor's worklist)
- ``token:<sha256>``             hash of a ``Token``
- ``roster:<aid>``               set of student ids
- ``rate:<aid>:<student>``       sorted set of recent upload times (rate limit window)
- ``running``                    set of submissions being graded (the janitor's worklist)
- ``lock:<id>``                  the run lock of a grading in progress, kept alive by a heartbeat
- ``consumers:<queue>``          sorted set of live workers consuming a queue, scored by when their claim lapses
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis
from redis.typing import EncodableT, FieldT

from grader.store.records import ReportVersion, Submission, SubmissionState, Token

P = "grader:"


def _dump(model: Submission | Token) -> dict[FieldT, EncodableT]:
    """One JSON string per field, typed as ``hset``'s mapping (whose key type is invariant)."""
    return {k: json.dumps(v) for k, v in model.model_dump(mode="json").items()}


def _changed(current: Submission, fields: dict[str, Any]) -> dict[FieldT, EncodableT]:
    """``fields`` validated against the whole ``current`` record, encoded as stored; only they are written."""
    values = Submission.model_validate({**current.model_dump(), **fields})
    return {k: v for k, v in _dump(values).items() if k in fields}


def token_key(digest: str) -> str:
    return f"{P}token:{digest}"


def roster_key(assignment: str) -> str:
    return f"{P}roster:{assignment}"


def rate_key(assignment: str, student: str) -> str:
    return f"{P}rate:{assignment}:{student}"


def consumers_key(queue: str) -> str:
    return f"{P}consumers:{queue}"


def versions_key(sub_id: str) -> str:
    return f"{P}report:{sub_id}:versions"


def parse_token(raw: Mapping[Any, Any]) -> Token | None:
    return Token.model_validate({k: json.loads(v) for k, v in raw.items()}) if raw else None


@dataclass(frozen=True)
class Admission:
    """A student's upload, before it is stored: on the roster, and if so, seconds to wait (None: admitted)."""

    on_roster: bool
    wait: float | None = None


# Roster check and rate limit in one step (one round trip, atomic: simultaneous uploads cannot all slip
# under the limit). An upload is counted only when admitted; a refused one gets the time until the
# window's oldest upload leaves it. The clock is Redis's own, so uploads through different API processes
# or hosts stand in the window in the order they were counted. KEYS: roster, rate window;
# ARGV: student, window (s), count, member. Reply: {on roster, seconds to wait as a string, or false}.
_ADMIT = """
if redis.call('sismember', KEYS[1], ARGV[1]) == 0 then return {0, false} end
local time = redis.call('time')
local now, window = tonumber(time[1]) + tonumber(time[2]) / 1e6, tonumber(ARGV[2])
redis.call('zremrangebyscore', KEYS[2], 0, now - window)
redis.call('zadd', KEYS[2], now, ARGV[4])
redis.call('expire', KEYS[2], math.floor(window) + 1)
if redis.call('zcard', KEYS[2]) <= tonumber(ARGV[3]) then return {1, false} end
redis.call('zrem', KEYS[2], ARGV[4])
local oldest = redis.call('zrange', KEYS[2], 0, 0, 'WITHSCORES')
return {1, tostring((tonumber(oldest[2]) or now) + window - now)}
"""


# received -> queued for the run that was sent, with its queue place; nothing if the record moved on.
# KEYS: record, queue, received list; ARGV: JSON of "received", the run id, "queued", the time; time (s), id.
_MARK_SENT = """
local state, run = redis.call('hget', KEYS[1], 'state'), redis.call('hget', KEYS[1], 'run_id')
if state ~= ARGV[1] or run ~= ARGV[2] then return 0 end
redis.call('hset', KEYS[1], 'state', ARGV[3], 'queued_at', ARGV[4])
redis.call('zadd', KEYS[2], ARGV[5], ARGV[6])
redis.call('zrem', KEYS[3], ARGV[6])
return 1
"""


class Store:
    """Records, indexes, tokens and rate limits on one Redis connection."""

    def __init__(self, client: redis.Redis) -> None:
        self.r = client
        # Scripts run by their SHA1, and are sent again if Redis lost them.
        self._admit, self._mark_sent = client.register_script(_ADMIT), client.register_script(_MARK_SENT)

    # -- submissions ---------------------------------------------------------------------

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def add_submission(self, sub: Submission) -> None:
        """Record a new submission with its indexes in one transaction: a ``received`` one joins the
        janitor's worklist until it is marked queued, a queued one (``queued_at`` set) takes its place in its queue."""
        ts = sub.received_at.timestamp()
        with self.r.pipeline() as pipe:
            pipe.hset(f"{P}sub:{sub.id}", mapping=_dump(sub))
            pipe.zadd(f"{P}asg:{sub.assignment}:subs", {sub.id: ts})
            pipe.zadd(f"{P}asg:{sub.assignment}:by:{sub.student}", {sub.id: ts})
            pipe.sadd(f"{P}asg:{sub.assignment}:submitters", sub.student)
            if sub.state == SubmissionState.received:
                pipe.zadd(f"{P}received", {sub.id: time.time()})
            elif sub.state == SubmissionState.queued and sub.queued_at is not None:
                pipe.zadd(f"{P}queue:{sub.queue}", {sub.id: sub.queued_at.timestamp()})
            pipe.execute()

    def get(self, sub_id: str) -> Submission | None:
        raw = self.r.hgetall(f"{P}sub:{sub_id}")
        return Submission.model_validate({k: json.loads(v) for k, v in raw.items()}) if raw else None

    def update(self, sub_id: str, **fields: Any) -> None:
        self.r.hset(f"{P}sub:{sub_id}", mapping=self._changes(sub_id, fields))

    def _changes(self, sub_id: str, fields: dict[str, Any]) -> dict[FieldT, EncodableT]:
        """``fields`` validated against the whole record, encoded as stored; only they are written."""
        return _changed(self._require(sub_id), fields)

    def _require(self, sub_id: str) -> Submission:
        sub = self.get(sub_id)
        if sub is None:
            raise KeyError(sub_id)
        return sub

    def new_run(self, sub_id: str, run_id: str, queue: str) -> None:
        """A regrade request, recorded before its task is sent: new run id, attempts reset, ``received``
        (on the janitor's worklist until ``mark_sent`` confirms the task was sent)."""
        changes = self._changes(
            sub_id,
            {
                "state": SubmissionState.received,
                "run_id": run_id,
                "queue": queue,
                "queued_at": None,
                "started_at": None,
                "finished_at": None,
                "attempts": 0,
                "progress_done": 0,
                "progress_current": "",
                "error": "",
            },
        )
        with self.r.pipeline() as pipe:
            pipe.hset(f"{P}sub:{sub_id}", mapping=changes)
            pipe.zadd(f"{P}received", {sub_id: time.time()})
            pipe.execute()

    def mark_sent(self, sub_id: str, run_id: str, queue: str, when: datetime) -> bool:
        """The task of run ``run_id`` was sent: ``received`` becomes ``queued`` with its place in ``queue``.
        False, and nothing changed, when the record has moved on meanwhile (a worker already took the task,
        or a regrade issued another run): a worker's state is never overwritten by this. One atomic step."""
        keys = [f"{P}sub:{sub_id}", f"{P}queue:{queue}", f"{P}received"]
        args: list[EncodableT] = [
            json.dumps(SubmissionState.received),
            json.dumps(run_id),
            json.dumps(SubmissionState.queued),
            json.dumps(when.isoformat()),
            when.timestamp(),
            sub_id,
        ]
        return bool(self._mark_sent(keys=keys, args=args))

    def unsent(self, older_than: datetime) -> list[Submission]:
        """Runs recorded as ``received`` before ``older_than`` and still so: their task may never have been
        sent (the API or the janitor stopped in between). Entries that moved on are dropped from the list."""
        found = []
        for sub_id in cast("list[str]", self.r.zrangebyscore(f"{P}received", "-inf", older_than.timestamp())):
            sub = self.get(sub_id)
            if sub is None or sub.state != SubmissionState.received:
                self.r.zrem(f"{P}received", sub_id)
            else:
                found.append(sub)
        return found

    def queue_position(self, sub: Submission) -> int | None:
        rank = cast("int | None", self.r.zrank(f"{P}queue:{sub.queue}", sub.id))  # no withscore: a rank or None
        return None if rank is None else int(rank) + 1

    def start_attempt(self, sub_id: str, when: datetime) -> int:
        """Count one more grading attempt and mark the submission running; returns the count."""
        attempts = int(self.r.hincrby(f"{P}sub:{sub_id}", "attempts", 1))
        self.update(sub_id, state=SubmissionState.running, started_at=when, progress_done=0, progress_current="")
        self.r.zrem(f"{P}queue:{self._require(sub_id).queue}", sub_id)
        self.r.sadd(f"{P}running", sub_id)
        return attempts

    def finish(
        self,
        sub_id: str,
        run_id: str,
        state: SubmissionState,
        when: datetime,
        *,
        report_json: str | None = None,
        score: float | None = None,
        max_score: float | None = None,
        error: str = "",
    ) -> bool:
        """Write the outcome if ``run_id`` is still current (a regrade supersedes older runs).

        The check and the write are one transaction (WATCH), so a stale run can never overwrite a
        newer one and a redelivered task replaces its own ``running`` state instead of adding a report.
        """
        key = f"{P}sub:{sub_id}"
        with self.r.pipeline() as pipe:
            while True:
                try:
                    # redis-py leaves Pipeline.watch unannotated
                    pipe.watch(key, f"{P}report:{sub_id}", versions_key(sub_id))  # type: ignore[no-untyped-call]
                    current = pipe.hget(key, "run_id")
                    if current is None or json.loads(current) != run_id:
                        pipe.unwatch()
                        return False
                    replace, kept = self._versions_to_add(
                        pipe, sub_id, run_id, state, when, report_json, score, max_score
                    )
                    pipe.multi()
                    fields = {
                        "state": state,
                        "finished_at": when.isoformat(),
                        "error": error,
                        "score": score,
                        "max_score": max_score,
                        "progress_current": "",
                    }
                    pipe.hset(key, mapping={k: json.dumps(v) for k, v in fields.items()})
                    if report_json is not None:
                        pipe.set(f"{P}report:{sub_id}", report_json)
                    if replace:
                        pipe.rpop(versions_key(sub_id))
                    for version in kept:
                        pipe.rpush(versions_key(sub_id), version.model_dump_json())
                    pipe.srem(f"{P}running", sub_id)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    @staticmethod
    def _versions_to_add(
        pipe: Any,
        sub_id: str,
        run_id: str,
        state: SubmissionState,
        when: datetime,
        report_json: str | None,
        score: float | None,
        max_score: float | None,
    ) -> tuple[bool, list[ReportVersion]]:
        """The versions a run's report appends (read under WATCH, before MULTI): its own, after the report it
        replaces when that one was written before versions were kept (so a regrade never loses it); and
        whether it first takes the place of the last version (the same run's, written again)."""
        if report_json is None:
            return False, []
        stored = int(pipe.llen(versions_key(sub_id)))
        last = pipe.lindex(versions_key(sub_id), -1) if stored else None
        replace = last is not None and ReportVersion.model_validate_json(last).run_id == run_id
        count = (
            stored - 1 if replace else stored
        )  # the same run written again (a duplicate delivery): one version per run
        kept: list[ReportVersion] = []
        previous = pipe.get(f"{P}report:{sub_id}")
        if stored == 0 and previous is not None:
            raw = pipe.hmget(f"{P}sub:{sub_id}", ["finished_at", "score", "max_score"])
            finished, old_score, old_max = (json.loads(v) if v is not None else None for v in raw)
            kept.append(
                ReportVersion(
                    version=1,
                    run_id="",
                    finished_at=finished,
                    state=SubmissionState.done,
                    score=old_score,
                    max_score=old_max,
                    report=str(previous),
                )
            )
        kept.append(
            ReportVersion(
                version=count + len(kept) + 1,
                run_id=run_id,
                finished_at=when,
                state=state,
                score=score,
                max_score=max_score,
                report=report_json,
            )
        )
        return replace, kept

    def progress(self, sub_id: str, done: int, total: int, current: str, visibility: str = "") -> None:
        self.r.hset(
            f"{P}sub:{sub_id}",
            mapping={
                "progress_done": json.dumps(done),
                "progress_total": json.dumps(total),
                "progress_current": json.dumps(current),
                "progress_current_visibility": json.dumps(visibility),
            },
        )

    def report(self, sub_id: str) -> str | None:
        value = self.r.get(f"{P}report:{sub_id}")
        return str(value) if value is not None else None

    def submissions(self, assignment: str, student: str | None = None) -> list[Submission]:
        """Newest first; all of an assignment's, or one submitter's."""
        key = f"{P}asg:{assignment}:by:{student}" if student else f"{P}asg:{assignment}:subs"
        # decode_responses=True and no scores asked for: the reply is a list of str.
        ids = cast("list[str]", self.r.zrevrange(key, 0, -1))
        return [s for s in (self.get(i) for i in ids) if s is not None]

    def latest_per_student(self, assignment: str) -> dict[str, Submission]:
        latest: dict[str, Submission] = {}
        for sub in self.submissions(assignment):
            latest.setdefault(sub.student, sub)
        return latest

    # -- tokens, roster, rate limits -----------------------------------------------------

    def save_token(self, digest: str, token: Token) -> None:
        self.r.hset(token_key(digest), mapping=_dump(token))

    def token(self, digest: str) -> Token | None:
        return parse_token(self.r.hgetall(token_key(digest)))

    def add_to_roster(self, assignment: str, students: list[str]) -> None:
        if students:
            self.r.sadd(roster_key(assignment), *students)

    def roster(self, assignment: str) -> set[str]:
        return set(cast("set[str]", self.r.smembers(roster_key(assignment))))  # decode_responses=True: str members

    def on_roster(self, assignment: str, student: str) -> bool:
        """One membership test (the upload path must not fetch a whole roster)."""
        return bool(self.r.sismember(roster_key(assignment), student))

    def admit(self, assignment: str, student: str, count: int, window_seconds: float, member: str) -> Admission:
        """Roster check and rate limit of one upload (``member``: a unique id for it) in one atomic step."""
        on_roster, wait = self._admit(
            keys=[roster_key(assignment), rate_key(assignment, student)],
            args=[student, repr(window_seconds), count, member],
        )
        # Lua's false arrives as None, and the wait as a string (a Lua number would arrive cut to an integer).
        return Admission(on_roster=bool(on_roster), wait=None if wait is None else max(1.0, float(wait)))

    def release(self, assignment: str, student: str, member: str) -> None:
        """Give back the rate-limit place ``admit`` counted for ``member``: the upload was refused after all
        (a broken, oversized or unstorable archive), and a refused upload is not a submission."""
        self.r.zrem(rate_key(assignment, student), member)

    # -- run locks (one grading of a run at a time, even under duplicate delivery) ----------

    _REFRESH = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
    )
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

    def acquire_run_lock(self, sub_id: str, holder: str, ttl_seconds: int) -> bool:
        """Take the grading lock of ``sub_id``; it expires unless refreshed (a dead worker's lapses)."""
        return bool(self.r.set(f"{P}lock:{sub_id}", holder, nx=True, ex=ttl_seconds))

    def refresh_run_lock(self, sub_id: str, holder: str, ttl_seconds: int) -> bool:
        return bool(self.r.eval(self._REFRESH, 1, f"{P}lock:{sub_id}", holder, ttl_seconds))

    def release_run_lock(self, sub_id: str, holder: str) -> None:
        self.r.eval(self._RELEASE, 1, f"{P}lock:{sub_id}", holder)

    def abandoned(self, older_than: datetime) -> list[Submission]:
        """Submissions marked running whose run lock has lapsed (their worker died) since ``older_than``."""
        found = []
        for sub_id in cast(set[str], self.r.smembers(f"{P}running")):
            sub = self.get(sub_id)
            if sub is None or sub.state != SubmissionState.running:
                self.r.srem(f"{P}running", sub_id)
            elif not self.r.exists(f"{P}lock:{sub_id}") and sub.started_at and sub.started_at < older_than:
                found.append(sub)
        return found

    def requeue_abandoned(self, sub_id: str, when: datetime) -> bool:
        """Back to ``received`` for the same run (attempts kept: a job that kills its worker stays poison),
        for the janitor to send its task again. False, and nothing changed, when it is no longer abandoned
        by then: its worker renewed the lock, or it finished."""
        key, lock = f"{P}sub:{sub_id}", f"{P}lock:{sub_id}"
        with self.r.pipeline() as pipe:
            try:
                pipe.watch(key, lock)  # type: ignore[no-untyped-call]  # a live worker writing either cancels EXEC
                sub = self.get(sub_id)
                if sub is None or sub.state != SubmissionState.running or self.r.exists(lock):
                    return False
                changes = _changed(sub, {"state": SubmissionState.received, "progress_current": ""})
                pipe.multi()
                pipe.hset(key, mapping=changes)
                pipe.zadd(f"{P}received", {sub_id: when.timestamp()})
                pipe.srem(f"{P}running", sub_id)
                pipe.execute()
                return True
            except redis.WatchError:
                return False

    def claim_janitor_round(self, holder: str, seconds: int) -> bool:
        """At most one janitor (of however many workers) acts per round."""
        return bool(self.r.set(f"{P}janitor", holder, nx=True, ex=seconds))

    def announce_consumer(self, queue: str, holder: str, ttl_seconds: float) -> None:
        """A worker says it consumes ``queue`` for the next ``ttl_seconds`` (renewed by its janitor thread)."""
        now = time.time()
        key = consumers_key(queue)
        self.r.zadd(key, {holder: now + ttl_seconds})
        self.r.zremrangebyscore(key, "-inf", now)

    def has_consumer(self, queue: str) -> bool:
        """Whether a live worker has announced that it consumes ``queue``."""
        return bool(self.r.zcount(consumers_key(queue), time.time(), "+inf"))

    def ping(self) -> bool:
        return bool(self.r.ping())
