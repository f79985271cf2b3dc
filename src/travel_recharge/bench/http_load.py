"""A lean HTTP/1.1 keep-alive load generator.

Each client is one connection sending requests back to back. It is written on raw asyncio
streams because a full-featured HTTP client would spend more CPU than the server under test
on this 2-core machine, and the load generator shares the machine with it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvloop

from travel_recharge.kit.percentiles import percentile


@dataclass
class LoadResult:
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def figures(self) -> dict[str, Any]:
        """Requests, statuses, throughput and latency percentiles (ms), rounded for reports."""
        return {
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "non_2xx": self.non_2xx,
            "throughput_per_s": round(self.throughput, 1),
            "p50_ms": round(percentile(self.latencies_s, 0.50) * 1000, 2),
            "p90_ms": round(percentile(self.latencies_s, 0.90) * 1000, 2),
            "p99_ms": round(percentile(self.latencies_s, 0.99) * 1000, 2),
        }


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


def _header_lines(headers: Mapping[str, str]) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items())


def post_request(host: str, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{_header_lines(headers)}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def get_request(host: str, path: str, headers: Mapping[str, str]) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{_header_lines(headers)}\r\n".encode()


async def _client(
    host: str,
    port: int,
    make_request: Callable[[], bytes],
    deadline: float,
    result: LoadResult,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            request = make_request()
            started = time.perf_counter()
            status = await _exchange(reader, writer, request)
            result.latencies_s.append(time.perf_counter() - started)
            result.statuses[status] += 1
    finally:
        writer.close()


async def run_load(
    host: str,
    port: int,
    make_request: Callable[[], bytes],
    clients: int,
    seconds: float,
) -> LoadResult:
    """Send requests from `make_request` with `clients` connections for `seconds`."""
    result = LoadResult()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_client(host, port, make_request, deadline, result) for _ in range(clients))
    )
    result.elapsed_s = time.perf_counter() - started
    return result


def load_local(
    port: int, make_request: Callable[[], bytes], clients: int, seconds: float
) -> LoadResult:
    """`run_load` against 127.0.0.1 on uvloop: the generator shares the CPU with the server,
    so it should use as little of it as it can."""
    return uvloop.run(run_load("127.0.0.1", port, make_request, clients, seconds))
