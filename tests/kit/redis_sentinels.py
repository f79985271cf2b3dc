"""A Redis master, two replicas and three Sentinels as real processes, for failover tests.

They listen on the sentinel helper's addresses (127.30.2.x, see the cluster's address plan),
so they never collide with the suite's Redis or another test's servers: data on port 6379
and Sentinels on 26379 of 127.30.2.1-3. No persistence (it is a cache), short lab timings
so a failover takes seconds. Everything they write stays in one temporary directory.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

SITE = "127.30.2"
MASTER_NAME = "travel-recharge"
DATA_PORT = 6379
SENTINEL_PORT = 26379
DOWN_AFTER_MS = 1000
# Also how long a Sentinel that voted for another waits (twice this) before it may start
# a failover of its own: long enough that one failover is not followed by a second.
FAILOVER_TIMEOUT_MS = 10_000
QUORUM = 2
# Generous: a loaded 2-core machine can take many times the usual few seconds.
DEADLINE_S = 60.0

T = TypeVar("T")

REDIS_SERVER = shutil.which("redis-server") or "redis-server"


def poll(what: str, probe: Callable[[], T | None], deadline_s: float = DEADLINE_S) -> T:
    """probe()'s first answer that is not None (errors count as None), or AssertionError."""
    deadline = time.monotonic() + deadline_s
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            found = probe()
            if found is not None:
                return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {deadline_s} s")
        time.sleep(0.1)


@dataclass
class Server:
    """One redis-server process (data node or Sentinel) at host:port."""

    host: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    _client: redis.Redis | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis(
                host=self.host,
                port=self.port,
                socket_timeout=2,
                socket_connect_timeout=2,
                retry=Retry(NoBackoff(), 0),
            )
        return self._client

    def launch(self, argv: list[str]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(argv, cwd=self.workdir, stdout=log, stderr=log)
        poll(f"{self.address} to answer", lambda: self.client().ping() or None)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        """kill -9: no goodbye to its clients or replicas."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused server cannot exit
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@dataclass
class RedisGroup:
    workdir: Path
    nodes: list[Server] = field(default_factory=list)
    sentinels: list[Server] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i in (1, 2, 3):
            host = f"{SITE}.{i}"
            self.nodes.append(Server(host, DATA_PORT, self.workdir / f"redis-{i}"))
            self.sentinels.append(Server(host, SENTINEL_PORT, self.workdir / f"sentinel-{i}"))

    @property
    def sentinel_addresses(self) -> list[str]:
        return [sentinel.address for sentinel in self.sentinels]

    def start(self) -> None:
        first, *others = self.nodes
        self._start_node(first, replica_of=None)
        for node in others:
            self._start_node(node, replica_of=first)
        for sentinel in self.sentinels:
            self._start_sentinel(sentinel, first)
        self.wait_healthy()

    def stop(self) -> None:
        for server in [*self.sentinels, *self.nodes]:
            server.stop()

    def _start_node(self, node: Server, replica_of: Server | None) -> None:
        argv = [
            REDIS_SERVER,
            "--bind", node.host,
            "--port", str(node.port),
            "--protected-mode", "no",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(node.workdir),
            # Outgoing connections leave from 127.0.0.1: replicas say where they listen.
            "--replica-announce-ip", node.host,
        ]  # fmt: skip
        if replica_of is not None:
            argv += ["--replicaof", replica_of.host, str(replica_of.port)]
        node.launch(argv)

    def _start_sentinel(self, sentinel: Server, master: Server) -> None:
        sentinel.workdir.mkdir(parents=True, exist_ok=True)
        config = sentinel.workdir / "sentinel.conf"  # Sentinel rewrites it as it learns
        config.write_text(
            f"bind {sentinel.host}\n"
            f"port {sentinel.port}\n"
            "protected-mode no\n"
            f"dir {sentinel.workdir}\n"
            f"sentinel announce-ip {sentinel.host}\n"
            f"sentinel announce-port {sentinel.port}\n"
            f"sentinel monitor {MASTER_NAME} {master.host} {master.port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 2\n"
        )
        sentinel.launch([REDIS_SERVER, str(config), "--sentinel"])

    def node(self, address: str) -> Server:
        return next(node for node in self.nodes if node.address == address)

    def named_master(self) -> str | None:
        """The master's address if every Sentinel names the same one, else None."""
        named = set()
        for sentinel in self.sentinels:
            answer = sentinel.client().execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME
            )
            if not answer:
                return None
            named.add(f"{answer[0].decode()}:{answer[1].decode()}")
        return named.pop() if len(named) == 1 else None

    def master(self) -> Server:
        return self.node(poll("the Sentinels to agree on a master", self.named_master))

    def wait_for_failover(self, old: Server) -> Server:
        """The replica every Sentinel names instead of `old`, once it serves as master."""

        def promoted() -> Server | None:
            named = self.named_master()
            if named is None or named == old.address:
                return None
            node = self.node(named)
            return node if replication(node)["role"] == "master" else None

        return poll(f"a replica to replace {old.address}", promoted)

    def restore(self) -> None:
        """Bring killed nodes back as replicas of the current master; wait until healthy."""
        master = self.master()
        for node in self.nodes:
            if not node.running:
                self._start_node(node, replica_of=master)
        self.wait_healthy()

    def wait_healthy(self) -> Server:
        """The master, once both replicas replicate it and every Sentinel sees all of it.

        Asked afresh each time: a second failover may still be under way (a Sentinel that
        had not heard of the first one's end can start its own), changing the master.
        """

        def healthy() -> Server | None:
            named = self.named_master()
            if named is None:
                return None
            master = self.node(named)
            replicas = [node for node in self.nodes if node is not master]
            if replication(master).get("connected_slaves") != len(replicas):
                return None
            for node in replicas:
                if replication(node).get("master_link_status") != "up":
                    return None
            for sentinel in self.sentinels:
                if not _sentinel_sees_all(sentinel, master, replicas):
                    return None
            return master

        return poll("the master, its replicas and Sentinels to be healthy", healthy)


def replication(node: Server) -> dict[str, Any]:
    info: dict[str, Any] = node.client().info("replication")
    return info


def _sentinel_sees_all(sentinel: Server, master: Server, replicas: list[Server]) -> bool:
    client = sentinel.client()
    state = _pairs(client.execute_command("SENTINEL", "MASTER", MASTER_NAME))
    if (state["flags"], f"{state['ip']}:{state['port']}") != ("master", master.address):
        return False
    if int(state["num-other-sentinels"]) != 2:
        return False
    seen = {
        f"{r['ip']}:{r['port']}"
        for r in map(_pairs, client.execute_command("SENTINEL", "REPLICAS", MASTER_NAME))
        if r["flags"] == "slave" and r["master-link-status"] == "ok"
    }
    return seen == {replica.address for replica in replicas}


def _pairs(reply: Any) -> dict[str, str]:
    """A Sentinel reply (a flat list of names and values, or a map) as a dict of strings."""
    if isinstance(reply, dict):
        items = list(reply.items())
    else:
        items = list(zip(reply[0::2], reply[1::2], strict=True))
    return {_text(name): _text(value) for name, value in items}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def running_group(workdir: Path) -> Iterator[RedisGroup]:
    """A started group, stopped after (for a module fixture)."""
    assert shutil.which("redis-server"), "needs redis-server (Debian: redis-server, redis-sentinel)"
    group = RedisGroup(workdir)
    try:
        group.start()
        yield group
    finally:
        group.stop()


def epoch_of(node: Server) -> str:
    """The cache epoch of a node's keys while it is master (see cache.epoch)."""
    return str(replication(node)["master_replid"])[:12]
