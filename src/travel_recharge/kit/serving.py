"""uvicorn with several workers, each listening on a socket of its own (SO_REUSEPORT).

uvicorn's workers share the launcher's listening socket, and the worker the kernel wakes first
accepts every connection waiting. Clients that connect together (a load balancer's pool, a
benchmark's clients) then often all land on one worker while the others idle: at 16 keep-alive
clients on 2 workers, one worker was seen at 70% CPU and the other at 7%, and taps ran 10%
slower than when the two shared the clients. With a socket per worker bound with SO_REUSEPORT,
the kernel spreads new connections over the workers by a hash of their addresses.

uvicorn's supervisor (restarts, health pings, signals) is kept; only its worker is ours, so
that each makes its own socket. Where SO_REUSEPORT is missing, the shared socket is used.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

logger = logging.getLogger("uvicorn.error")


# How `serve` and the bench's bare FastAPI ceiling both run uvicorn: the same event loop and
# HTTP parser, no access log (a ceiling measured another way would be no ceiling).
SERVER_OPTIONS: dict[str, Any] = {"loop": "uvloop", "http": "httptools", "access_log": False}


class PortTaken(OSError):
    """Something already listens on the address."""


def serve(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """uvicorn.run(app, ...) with a listening socket per worker when there are several."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    # A plain bind first: it fails if anything listens there, even a stray server whose
    # socket has SO_REUSEPORT too (which the workers' binds would silently share the port with).
    _listening_socket(host, port, reuse_port=False).close()
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **options)
    # The supervisor makes its workers from this module-level name at start and on restart.
    multiprocess.Process = _OwnSocketWorker  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[]).run()


class _OwnSocketServer(uvicorn.Server):
    def run(self, sockets: list[socket.socket] | None = None) -> None:
        del sockets  # the supervisor's (none): this worker listens on its own
        try:
            own = _listening_socket(self.config.host, self.config.port, reuse_port=True)
        except PortTaken as exc:
            logger.error("%s", exc)
            # The supervisor stops on this code instead of restarting the worker forever.
            sys.exit(STARTUP_FAILURE)
        super().run([own])


class _OwnSocketWorker(multiprocess.Process):
    """uvicorn's worker process, serving with _OwnSocketServer (made in the worker)."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = _OwnSocketServer(config=self.config)
        return self._server


def _listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortTaken(exc.errno, f"{host}:{port} is taken ({exc.strerror})") from exc
    sock.set_inheritable(True)
    return sock
