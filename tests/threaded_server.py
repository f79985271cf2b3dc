"""A real uvicorn server in a thread of the test process, for tests that need a socket.

Its app's lifespan runs on the server's own event loop, so its asyncpg and Redis pools are
bound there; a synchronous caller (schemathesis) or the service itself (the simulator sends
its traffic to its own URL) reach it over TCP like any client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

START_TIMEOUT_S = 30.0


@contextmanager
def threaded_server(app: FastAPI, port: int, name: str) -> Iterator[None]:
    """Serve `app` on 127.0.0.1:`port` until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive(), f"the {name} stopped while starting"
        assert time.monotonic() < deadline, f"the {name} did not start in time"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
