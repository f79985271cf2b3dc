"""The cache epoch: the Redis master's identity inside every cache key, so that a failover
starts a fresh cache instead of serving what the old master lost.

Redis replicates asynchronously. A master that dies can take with it writes it acknowledged
but never sent to its replicas: a card's newest generation token (a writer's invalidation,
or an invalidation debt paid late). On the promoted replica the card's previous token is
current again, and so is the view filled under it, older than the acknowledged write.

Every master has a replication id (INFO replication, master_replid) that Redis draws anew
exactly when its data may have gone back in time: when a replica is promoted, and when a
master restarts without persistence. Its first characters, the epoch, are part of every
cache key (`tr:v1:<epoch>:cards:42:gen`), so a new master starts with an empty keyspace of
its own, filled from PostgreSQL, and the views the old master held are never asked for.

The cache writes its keys with a placeholder for the epoch (`tr:v1:{epoch}:cards:42:gen`);
the connection fills it in as it packs the command, with the epoch it read from its own
server when it connected (one INFO per new connection; none per request). So a command can
only name the keys of the server it reaches, however requests interleave with a failover:
there is no moment at which a worker holds "the new epoch" but talks to the old server, or
the reverse. A demoted master never answers under its old epoch either: Sentinel closes its
clients when it turns it into a replica, and with Sentinels a connection refuses a server
that is not a master. The cost: a cold cache after every failover, planned ones included
(a switchover loses nothing, but nothing cheap tells the two apart).

Keys outside the epoch, on purpose: the rate limiter's (`rl:`), the simulator's (`sim:`)
and the performance test's lock. Losing their newest writes in a failover lets a client a
few more requests, or lets a second run start early; moving them with the epoch would do
worse: every failover would reset every client's limits and forget the running simulation.
An isolated block's scratch keys live for one performance test and stay outside it too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.sentinel import SentinelManagedConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.typing import EncodableT

from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.cache")

Role = Literal["master", "replica"]

PLACEHOLDER = "{epoch}"
# 12 hex digits of a 40-digit random id: two masters share an epoch with odds of 1 in 2^48,
# for 13 bytes a key.
EPOCH_LENGTH = 12
# The epoch of every server while fencing is off (a test's control run, see EpochFence).
UNFENCED = "0"


@dataclass(frozen=True)
class Replication:
    """What a Redis server says of its place in replication (INFO replication)."""

    role: Role
    replid: str

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Replication:
        role = {"master": "master", "slave": "replica"}.get(str(fields.get("role", "")))
        replid = str(fields.get("master_replid", ""))
        if role is None or not replid:
            raise RedisConnectionError("the server reported no replication role or id")
        return cls(role=cast(Role, role), replid=replid)

    @classmethod
    def from_info(cls, text: bytes | str) -> Replication:
        """From the raw text of INFO replication, as a connection reads it."""
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        lines = (line.partition(":") for line in text.splitlines() if ":" in line)
        return cls.from_fields({name: value.strip() for name, _, value in lines})


class EpochFence:
    """Where the epoch goes in our keys, and which epoch the newest connection found.

    `enabled` is True in service. A test turns it off (before any connection is made) to
    show what the epoch prevents: every server's keys are then named with the same epoch.
    """

    def __init__(self, key_prefix: str, *, masters_only: bool, enabled: bool = True) -> None:
        self._key_prefix = key_prefix
        self.placeholder_prefix = f"{key_prefix}{PLACEHOLDER}:"
        self.masters_only = masters_only  # with Sentinels: anything else is a stale address
        self.enabled = enabled
        self.current: str | None = None

    def epoch_of(self, replication: Replication) -> str:
        return replication.replid[:EPOCH_LENGTH] if self.enabled else UNFENCED

    def stamp(self, args: tuple[EncodableT, ...], epoch: str | None) -> tuple[EncodableT, ...]:
        """`args` with the placeholder of every key of ours replaced by `epoch`.

        Raises ConnectionError when a key needs an epoch and the connection knows none (it
        is not connected): sent after a reconnection, it could reach another server.
        """
        placeholder = self.placeholder_prefix
        stamped: list[EncodableT] | None = None
        # One pass, no allocation for commands without our keys (every command runs it).
        for i, arg in enumerate(args):
            if isinstance(arg, str) and arg.startswith(placeholder):
                if epoch is None:
                    raise RedisConnectionError("no cache epoch: the connection is not established")
                if stamped is None:
                    stamped = list(args)
                stamped[i] = f"{self._key_prefix}{epoch}:{arg[len(placeholder) :]}"
        return args if stamped is None else tuple(stamped)

    def connected(self, epoch: str, server: str) -> None:
        """Note a new connection's epoch; a change means a new master (or a wiped one)."""
        if epoch == self.current:
            return
        if self.current is not None:
            log_event(
                logger,
                "cache.epoch_changed",
                logging.WARNING,
                previous=self.current,
                epoch=epoch,
                server=server,
            )
        self.current = epoch


class EpochStamped(AbstractConnection):
    """A connection that learns its server's epoch as it connects and stamps it into keys.

    Mixed in before a concrete redis-py connection class (below); takes the fence as the
    `epoch_fence` connection argument.
    """

    def __init__(self, *, epoch_fence: EpochFence, **kwargs: Any) -> None:
        self.fence = epoch_fence
        self.epoch: str | None = None
        super().__init__(**kwargs)

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        self.epoch = None
        await super().on_connect_check_health(check_health)
        # The handshake's last step: a failure here disconnects, like a failed AUTH.
        await self.send_command("INFO", "replication", check_health=False)
        replication = Replication.from_info(await self.read_response())
        server = (
            getattr(self, "path", "") or f"{getattr(self, 'host', '')}:{getattr(self, 'port', '')}"
        )
        if self.fence.masters_only and replication.role != "master":
            raise RedisConnectionError(f"{server} is a {replication.role}, not the master")
        self.epoch = self.fence.epoch_of(replication)
        self.fence.connected(self.epoch, server)

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        # Only a live session's epoch: redis-py reconnects a closed connection *after*
        # packing, which could carry these keys to another server.
        epoch = self.epoch if self.is_connected else None
        return super().pack_command(*self.fence.stamp(args, epoch))


class EpochConnection(EpochStamped, Connection):
    pass


class EpochSSLConnection(EpochStamped, SSLConnection):
    pass


class EpochUnixConnection(EpochStamped, UnixDomainSocketConnection):
    pass


class EpochSentinelConnection(EpochStamped, SentinelManagedConnection):
    pass


# The stamping variant of each class redis-py picks for a URL scheme.
STAMPED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: EpochConnection,
    SSLConnection: EpochSSLConnection,
    UnixDomainSocketConnection: EpochUnixConnection,
}
