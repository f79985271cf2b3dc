"""Several workers, each listening on its own socket: the clients are spread over them."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter

import psutil
import pytest

from travel_recharge.bench.server import bare_server
from travel_recharge.kit.embedded import free_port
from travel_recharge.kit.serving import PortTaken, serve


def listeners_and_clients(launcher_pid: int, port: int) -> tuple[dict[int, str], Counter[int]]:
    """The listening socket of each worker on `port` (its kernel identity, "socket:[inode]":
    workers sharing one socket show the same), and how many clients each worker holds."""
    listening: dict[int, str] = {}
    clients: Counter[int] = Counter()
    for worker in psutil.Process(launcher_pid).children():
        for connection in worker.net_connections(kind="tcp"):
            if connection.laddr.port != port:
                continue
            if connection.status == psutil.CONN_LISTEN:
                listening[worker.pid] = os.readlink(f"/proc/{worker.pid}/fd/{connection.fd}")
            elif connection.status == psutil.CONN_ESTABLISHED:
                clients[worker.pid] += 1
    return listening, clients


def wait_for_listeners(launcher_pid: int, port: int, workers: int, timeout_s: float = 30) -> None:
    """Until every worker listens: the server answers as soon as its first worker does, and
    clients connecting before the second binds its socket all go to the first."""
    deadline = time.monotonic() + timeout_s
    while len(listeners_and_clients(launcher_pid, port)[0]) < workers:
        assert time.monotonic() < deadline, "the workers never all listened"
        time.sleep(0.1)


def test_clients_that_connect_together_are_spread_over_the_workers() -> None:
    with bare_server(workers=2) as server:
        wait_for_listeners(server.pid, server.port, 2)
        # 32 keep-alive clients connecting at once, as a benchmark's or a balancer's pool do;
        # each asks once, so each connection is accepted and answered before counting.
        connections = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(32)
        ]
        try:
            for connection in connections:
                connection.sendall(b"GET /bare HTTP/1.1\r\nHost: t\r\n\r\n")
            for connection in connections:
                assert connection.recv(4096).startswith(b"HTTP/1.1 200")
            listening, clients = listeners_and_clients(server.pid, server.port)
        finally:
            for connection in connections:
                connection.close()
    # A socket of its own in each worker: on uvicorn's shared socket both list the same one
    # (and the same 32 clients were seen spread 27/5, 24/8, 26/6; here 16/16 on average).
    assert len(set(listening.values())) == 2, listening
    assert set(clients) == set(listening)  # both serve clients (all 32 on one: odds 2 in 2^32)
    assert sum(clients.values()) == 32


def test_a_taken_port_is_refused_before_any_worker_starts() -> None:
    port = free_port()
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", port))
        other.listen()
        # Even a server whose socket allows sharing the port: the workers would split it.
        with pytest.raises(PortTaken, match=f"127.0.0.1:{port} is taken"):
            serve(
                "travel_recharge.bench.bare_app:create_bare_app",
                host="127.0.0.1",
                port=port,
                workers=2,
            )
