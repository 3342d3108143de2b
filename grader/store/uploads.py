"""The upload path's Redis calls on ``redis.asyncio``: the same keys and transactions as ``Store``.

A deadline sends many uploads at once. Made with the blocking client, each of an upload's round trips
held one of an API process's few threads while it waited, so uploads queued for threads rather than
for the CPU (bench/burst.py: p99 ~200 ms with 20 clients). Awaited on the event loop, a process
works on every upload it has while Redis answers. Key names and command sequences come from
``grader.store.submissions``, so both clients write the same records.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio
from redis.commands.core import AsyncScript

from grader.store.records import BrokerMessage, Submission, Token
from grader.store.submissions import (
    consumers_key,
    parse_token,
    rate_key,
    record_commands,
    roster_key,
    token_key,
)


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
ADMIT_SCRIPT = """
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


class UploadStore:
    """Token, roster and rate limit, queue consumers and the new record, awaited on the running event loop."""

    def __init__(self, connect: Callable[[], redis.asyncio.Redis]) -> None:
        # An asyncio client belongs to the loop it was first used on; a process normally has one loop,
        # but an in-process test client runs each request on a loop of its own.
        self._connect = connect
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[redis.asyncio.Redis, AsyncScript]]
        self._clients = weakref.WeakKeyDictionary()

    def _client(self) -> tuple[redis.asyncio.Redis, AsyncScript]:
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            client = self._connect()
            # Registered once: the script then runs by its SHA1 (EVALSHA), and is sent again if Redis lost it.
            self._clients[loop] = (client, client.register_script(ADMIT_SCRIPT))
        return self._clients[loop]

    @property
    def r(self) -> redis.asyncio.Redis:
        return self._client()[0]

    async def token(self, digest: str) -> Token | None:
        return parse_token(await self.r.hgetall(token_key(digest)))

    async def on_roster(self, assignment: str, student: str) -> bool:
        return bool(await self.r.sismember(roster_key(assignment), student))

    async def admit(self, assignment: str, student: str, count: int, window_seconds: float, member: str) -> Admission:
        """Roster check and rate limit of one upload (``member``: a unique id for it) in one atomic step."""
        on_roster, wait = await self._client()[1](keys=[roster_key(assignment), rate_key(assignment, student)],
                                                  args=[student, repr(window_seconds), count, member])  # fmt: skip
        # Lua's false arrives as None, and the wait as a string (a Lua number would arrive cut to an integer).
        return Admission(on_roster=bool(on_roster), wait=None if wait is None else max(1.0, float(wait)))

    async def release(self, assignment: str, student: str, member: str) -> None:
        """Give back the rate-limit place ``admit`` counted for ``member``: the upload was refused after all
        (a broken, oversized or unstorable archive), and a refused upload is not a submission."""
        await self.r.zrem(rate_key(assignment, student), member)

    async def has_consumer(self, queue: str) -> bool:
        return bool(await self.r.zcount(consumers_key(queue), time.time(), "+inf"))

    async def add_submission(self, sub: Submission, message: BrokerMessage | None) -> None:
        """As ``Store.add_submission``: the record, its indexes and its broker message in one transaction."""
        async with self.r.pipeline() as pipe:
            record_commands(pipe, sub, message)
            await pipe.execute()

    async def warm(self, connections: int) -> None:
        """Open ``connections`` pooled connections and load the admission script now, so that the first
        uploads of a deadline do not each pay for a connection (the pool keeps them open)."""
        client, _ = self._client()
        await client.script_load(ADMIT_SCRIPT)
        await asyncio.gather(*(client.ping() for _ in range(connections)))

    async def close(self) -> None:
        """Close the running loop's client (the API's shutdown)."""
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].aclose(close_connection_pool=True)  # the pool was passed in, so it is not closed by default
