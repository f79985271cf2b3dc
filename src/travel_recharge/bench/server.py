"""The real service in a subprocess, for benchmarks (the load comes from outside it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from travel_recharge.config import Settings
from travel_recharge.embedded import free_port
from travel_recharge.security.keys import new_signing_key
from travel_recharge.security.rate_limit import unreachable_limits
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal, TokenSigner

# The benchmark's servers sign with this key, so the benchmark can make its own tokens.
_SIGNING_KEY = new_signing_key()


def authorization(role: Role) -> dict[str, str]:
    """The Authorization header of a token for `role` that the benchmark's servers accept."""
    defaults = Settings.model_fields
    signer = TokenSigner(
        _SIGNING_KEY, defaults["auth_issuer"].default, defaults["auth_audience"].default, 86_400
    )
    principal = Principal(1, f"bench-{role}", role)
    return {"Authorization": f"Bearer {signer.issue(principal, datetime.now(UTC)).token}"}


@contextmanager
def bench_server(environment: dict[str, str], workers: int) -> Iterator[int]:
    """Serve with exactly these TR_* settings; yields the port once /health answers 200.

    Rate limits stay on (their Redis round trip is part of every measured request) with
    limits the load never reaches, since all of it comes from one address and principal."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {
        "TR_LOG_LEVEL": "WARNING",
        "TR_AUTH_SIGNING_KEY": _SIGNING_KEY,
        "TR_RATE_LIMITS": json.dumps(unreachable_limits()),
    } | environment
    launcher = Path(sys.executable).parent / "travel-recharge"
    server = subprocess.Popen(
        [str(launcher), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(port, server)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def _wait_healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            # 200 also when degraded: the cold read benchmark runs without Redis on purpose.
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become healthy")
