"""The real service in a subprocess, for benchmarks (the load comes from outside it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from travel_recharge.embedded import free_port


@contextmanager
def bench_server(environment: dict[str, str], workers: int) -> Iterator[int]:
    """Serve with exactly these TR_* settings; yields the port once /health answers 200."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {"TR_LOG_LEVEL": "WARNING"} | environment
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
