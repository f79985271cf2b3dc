"""The real service in a subprocess, for benchmarks (the load comes from outside it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis

from travel_recharge.bench.bare_app import BARE_PATH
from travel_recharge.kit.config import Settings
from travel_recharge.kit.embedded import free_port
from travel_recharge.security.keys import new_signing_key
from travel_recharge.security.rate_limit import state_prefix, unreachable_limits
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal, TokenSigner

# The benchmark's servers sign with this key, so the benchmark can make its own tokens.
_SIGNING_KEY = new_signing_key()
# The account those tokens name (account_fixture.sql makes it): trips, recharges and ledger
# entries record the account that made them.
BENCH_ACCOUNT_ID = 1
HEALTH_PATH = "/api/v1/health"
# A benchmark measures requests, so its servers run without the analytics jobs that check
# 10-15 s after a worker starts: on a fresh database the forecast is due at once, and its
# fit (a subprocess, ~2 s of CPU on these 2 cores) fell inside the first workload measured
# (the suite's card balance read 0.37 of bare FastAPI where the next reads read 0.50).
WITHOUT_JOBS = {"TR_FORECAST_CHECK_INTERVAL_S": "0", "TR_FLOWS_CHECK_INTERVAL_S": "0"}


@dataclass(frozen=True)
class RunningServer:
    port: int
    pid: int  # the launcher: with several workers, they are its children


def signed_authorization(
    signing_key: str, principal: Principal, ttl_s: int = 86_400
) -> dict[str, str]:
    """The Authorization header of `principal`'s token, signed with `signing_key` for the
    issuer and audience a service with default settings checks."""
    defaults = Settings.model_fields
    signer = TokenSigner(
        signing_key, defaults["auth_issuer"].default, defaults["auth_audience"].default, ttl_s
    )
    return {"Authorization": f"Bearer {signer.issue(principal, datetime.now(UTC)).token}"}


def authorization(role: Role, *, recharge_point_id: int | None = None) -> dict[str, str]:
    """The Authorization header of a token for `role` that the benchmark's servers accept
    (a recharge point's bound to `recharge_point_id`)."""
    principal = Principal(
        BENCH_ACCOUNT_ID, f"bench-{role}", role, recharge_point_id=recharge_point_id
    )
    return signed_authorization(_SIGNING_KEY, principal)


@contextmanager
def bench_server(environment: dict[str, str], workers: int) -> Iterator[int]:
    """Serve with exactly these TR_* settings; yields the port once /health answers 200."""
    with service_process(environment, workers) as server:
        yield server.port


@contextmanager
def service_process(environment: dict[str, str], workers: int) -> Iterator[RunningServer]:
    """`travel-recharge serve` with exactly these TR_* settings, once /health answers 200.

    Rate limits stay on (their Redis round trip is part of every measured request) with
    limits the load never reaches, since all of it comes from one address and principal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {
        "TR_LOG_LEVEL": "WARNING",
        "TR_AUTH_SIGNING_KEY": _SIGNING_KEY,
        "TR_RATE_LIMITS": json.dumps(unreachable_limits()),
    } | environment
    launcher = Path(sys.executable).parent / "travel-recharge"
    try:
        with _process(
            lambda port: [str(launcher), "serve", "--port", str(port), "--workers", str(workers)],
            env,
            HEALTH_PATH,
        ) as server:
            yield server
    finally:
        namespace = environment.get("TR_CACHE_NAMESPACE")
        _drop_namespace_state(environment.get("TR_REDIS_URL"), namespace)


def _drop_namespace_state(redis_url: str | None, namespace: str | None) -> None:
    """Every key of the server's own namespace: the rate limiter's sets have no TTL (they must
    never be evicted) and its cached views' generation tokens live a day, while a
    benchmark's namespace is never used again. Never the default namespace's, which may be a
    running service's."""
    if not redis_url or not namespace:
        return
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=5)
    try:
        for prefix in (state_prefix(namespace), f"{namespace}:"):
            for key in client.scan_iter(match=f"{prefix}*", count=500):
                client.delete(key)
    except (redis.RedisError, OSError):
        pass  # an unreachable Redis (the cold read benchmark's) holds nothing of ours
    finally:
        client.close()


@contextmanager
def bare_server(workers: int) -> Iterator[RunningServer]:
    """A minimal FastAPI app (bench.bare_app) served the way `serve` serves ours: the ceiling."""
    command = [sys.executable, "-m", "travel_recharge.bench.bare_serve"]
    with _process(
        lambda port: [*command, str(port), str(workers)], dict(os.environ), BARE_PATH
    ) as s:
        yield s


@contextmanager
def _process(
    command: Callable[[int], list[str]], env: dict[str, str], ready_path: str
) -> Iterator[RunningServer]:
    port = free_port()
    server = subprocess.Popen(
        command(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_ready(port, server, ready_path)
        yield RunningServer(port, server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def _wait_ready(port: int, server: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            # 200 also when degraded: the cold read benchmark runs without Redis on purpose.
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become healthy")
