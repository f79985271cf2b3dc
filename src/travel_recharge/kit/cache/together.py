"""Redis commands and Lua scripts in one round trip, on a pool connection directly.

A cached answer replayed at the edge (kit.replay) needs the rate limiter's script and the
view's PEEK: sent together, they cost one round trip instead of two. They run one after the
other inside Redis, not as one atomic step; neither needs the other to be.

The hot single calls take this road too (the rate limiter's script, an invalidation's SET):
measured beside redis-py's command path on the same connection, about 25-35 µs of CPU less
per call (no retry wrapper, no command-specific reply parsing), a tenth of a tap's Redis cost.
"""

from __future__ import annotations

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


async def run_together(redis: Redis, calls: Sequence[Call]) -> list[object]:
    """Each call's result, in order, from one pipelined round trip; RedisError if any failed.

    A server that lost some scripts (a restart, SCRIPT FLUSH, a failover) is given them, and
    the calls that missed them are sent once more.
    """
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
    for result in results:
        if isinstance(result, RedisError):
            raise result
    return results


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
