"""A server that accepts connections and never says a word: a hung database, or a network
that swallows everything, as a client's connect timeout meets it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class SilentServer:
    host: str
    port: int
    accepted: int = 0
    _held: list[socket.socket] = field(default_factory=list)


@contextmanager
def silent_server(host: str) -> Iterator[SilentServer]:
    """Listen on a free port of `host`; count and hold every connection until the end."""
    listener = socket.socket()
    listener.bind((host, 0))
    listener.listen(64)
    listener.settimeout(0.1)
    server = SilentServer(host, listener.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            server._held.append(connection)
            server.accepted += 1

    thread = threading.Thread(target=accept, name="silent server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in server._held:
            connection.close()
        listener.close()
