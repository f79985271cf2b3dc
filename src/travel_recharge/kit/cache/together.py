"""Redis commands and Lua scripts in one round trip, on a pool connection directly.

A cached answer replayed at the edge (kit.replay) needs the rate limiter's script and the
view's PEEK: sent together, they cost one round trip instead of two. They run one after the
other inside Redis, not as one atomic step; neither needs the other to be. The calls of
concurrent requests go together too (Batches).

The hot calls all take this road (the rate limiter's script, a view's PEEK, an
invalidation's SET): measured beside redis-py's command path on the same connection, about
25-35 µs of CPU less per call (no retry wrapper, no command-specific reply parsing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.typing import EncodableT


@dataclass(frozen=True)
class ScriptCall:
    """One script with its keys and arguments."""

    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[EncodableT]

    def command(self) -> tuple[EncodableT, ...]:
        return ("EVALSHA", self.script.sha, len(self.keys), *self.keys, *self.args)


@dataclass(frozen=True)
class Command:
    """One plain command: its name and arguments, as Redis reads them (replies unparsed)."""

    args: tuple[EncodableT, ...]

    def command(self) -> tuple[EncodableT, ...]:
        return self.args


Call = ScriptCall | Command


class Batches:
    """The calls every request of this worker makes in one turn of the event loop, sent in
    one round trip (auto-pipelining): a loaded worker has a dozen requests in flight, and
    each wants Redis at about the same moment (its rate limit, a view's freshness, an
    invalidation). One batch takes one pool connection, one write and one read of the
    socket for all of them, here and in Redis, which shares the machine's cores.

    Each caller gets its own calls' results, or its own calls' errors; a failure of the
    round trip itself (a lost connection, a timeout) reaches every caller of the batch.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiting: list[tuple[Sequence[Call], asyncio.Future[list[object]]]] = []
        self._sending: set[asyncio.Task[None]] = set()  # referenced until they end

    async def run(self, calls: Sequence[Call]) -> list[object]:
        """Each call's result, in order, from the round trip of this turn of the loop;
        RedisError if any of these calls failed. A server that lost some scripts (a
        restart, SCRIPT FLUSH, a failover) is given them, and the calls that missed them are
        sent once more."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[object]] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send_waiting)
        self._waiting.append((calls, future))
        results = await future
        _raise_first_error(results)
        return results

    def _send_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Sequence[Call], asyncio.Future[list[object]]]]) -> None:
        calls = [call for calls, _ in batch for call in calls]
        try:
            results = await _results(self._redis, calls)
        except BaseException as exc:
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(exc, Exception):
                    future.set_exception(exc)
                else:
                    future.cancel()  # the loop is closing: nobody will answer
            if not isinstance(exc, Exception):
                raise
            return
        start = 0
        for calls_of_one, future in batch:
            if not future.done():  # its caller may have given up (a timeout)
                future.set_result(results[start : start + len(calls_of_one)])
            start += len(calls_of_one)


async def _results(redis: Redis, calls: Sequence[Call]) -> list[object]:
    """Each call's result or its own error, in order, from one round trip (NOSCRIPT mended)."""
    results = await _send(redis, calls)
    # Only those again: the others have run, and running a rate limit twice counts it twice.
    missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
    if missing:
        for i in missing:
            call = calls[i]
            assert isinstance(call, ScriptCall)  # only a script can miss on the server
            await redis.script_load(call.script.script)
        again = await _send(redis, [calls[i] for i in missing])
        for i, result in zip(missing, again, strict=True):
            results[i] = result
    return results


def _raise_first_error(results: Sequence[object]) -> None:
    for result in results:
        if isinstance(result, RedisError):
            raise result


async def _send(redis: Redis, calls: Sequence[Call]) -> list[object]:
    # On a connection of the pool directly: redis-py's Pipeline costs about a fifth more CPU
    # for these two scripts (measured, interleaved rounds), and a Script called on a pipeline
    # would ask SCRIPT EXISTS first, a second round trip on every execute.
    pool = redis.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        commands = [call.command() for call in calls]
        await connection.send_packed_command(connection.pack_commands(commands))
        results: list[object] = []
        for _ in calls:
            try:
                results.append(await connection.read_response())
            except ResponseError as error:  # this script's own error; the replies stay in step
                results.append(error)
        return results
    except BaseException:
        # A reply may be half read (a timeout, a cancellation): the connection is not reused.
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)
