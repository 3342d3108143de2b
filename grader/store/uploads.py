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

import redis.asyncio
from redis.commands.core import AsyncScript

from grader.store.records import BrokerMessage, Submission, Token
from grader.store.submissions import (
    ADMIT_SCRIPT,
    Admission,
    admission,
    admit_call,
    consumers_key,
    parse_token,
    record_commands,
    roster_key,
    token_key,
)


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
        """As ``Store.admit``: roster check and rate limit in one round trip."""
        keys, args = admit_call(assignment, student, count, window_seconds, member)
        reply = await self._client()[1](keys=keys, args=args)
        return admission(reply, float(args[1]), window_seconds)

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
