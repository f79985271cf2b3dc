"""Several Lua scripts in one Redis round trip.

A cached answer replayed at the edge (kit.replay) needs the rate limiter's script and the
view's PEEK: sent together, they cost one round trip instead of two. They run one after the
other inside Redis, not as one atomic step; neither needs the other to be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError
from redis.typing import EncodableT


@dataclass(frozen=True)
class ScriptCall:
    """One script with its keys and arguments."""

    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[EncodableT]


async def run_together(redis: Redis, calls: Sequence[ScriptCall]) -> list[object]:
    """Each call's result, in order, from one pipelined round trip; RedisError if any failed.

    A server that lost some scripts (a restart, SCRIPT FLUSH, a failover) is given them, and
    the calls that missed them are sent once more.
    """
    results = await _send(redis, calls)
    # Only those again: the others have run, and running a rate limit twice counts it twice.
    missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
    if missing:
        for i in missing:
            await redis.script_load(calls[i].script.script)
        again = await _send(redis, [calls[i] for i in missing])
        for i, result in zip(missing, again, strict=True):
            results[i] = result
    for result in results:
        if isinstance(result, RedisError):
            raise result
    return results


async def _send(redis: Redis, calls: Sequence[ScriptCall]) -> list[object]:
    # EVALSHA by hand: a Script called on a pipeline makes the pipeline ask SCRIPT EXISTS
    # first, a second round trip on every execute.
    async with redis.pipeline(transaction=False) as pipe:
        for call in calls:
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        return list(await pipe.execute(raise_on_error=False))
