"""The machine's ceilings, measured in the same run as the service.

redis-benchmark GET against the same Redis, pgbench running the tap's SQL transaction on the
same database, and a bare FastAPI endpoint served like ours. A ceiling that cannot be
measured here is reported as unavailable, with the reason, rather than failing the run.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import asdict
from typing import Any
from urllib.parse import unquote, urlsplit

from travel_recharge.bench.bare_app import BARE_PATH
from travel_recharge.bench.http_load import get_request, load_local
from travel_recharge.bench.memory import server_memory
from travel_recharge.bench.server import bare_server
from travel_recharge.bench.taps import run_tap_pgbench

# redis-benchmark has no duration option: it is given about this many GETs per second asked.
REDIS_GETS_PER_SECOND = 50_000


def unavailable(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def redis_get(redis_url: str, clients: int, seconds: float) -> dict[str, Any]:
    """`redis-benchmark -t get` (one request per round trip, like our clients), from its CSV."""
    binary = shutil.which("redis-benchmark") or shutil.which("valkey-benchmark")
    if binary is None:
        return unavailable("redis-benchmark is not installed")
    url = urlsplit(redis_url)
    if url.scheme != "redis" or not url.hostname:
        return unavailable(f"redis-benchmark cannot reach a {url.scheme}:// URL")
    requests = max(1000, int(REDIS_GETS_PER_SECOND * seconds))
    command = [binary, "-h", url.hostname, "-p", str(url.port or 6379), "-c", str(clients)]
    command += ["-n", str(requests), "-t", "get", "--csv"]
    if url.path.strip("/"):
        command += ["--dbnum", url.path.strip("/")]
    if url.username:
        command += ["--user", unquote(url.username)]
    if url.password:
        command += ["-a", unquote(url.password), "--no-auth-warning"]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=120 + seconds * 4, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return unavailable(f"redis-benchmark failed: {exc}")
    row = next(
        (r for r in csv.DictReader(completed.stdout.splitlines()) if r["test"] == "GET"), None
    )
    if completed.returncode != 0 or row is None:
        return unavailable(f"redis-benchmark failed: {completed.stderr.strip()[-300:]}")
    return {
        "available": True,
        "tool": binary,
        "clients": clients,
        "requests": requests,
        "throughput_per_s": round(float(row["rps"]), 1),
        "p50_ms": float(row["p50_latency_ms"]),
        "p90_ms": None,  # redis-benchmark reports p50, p95 and p99 only
        "p95_ms": float(row["p95_latency_ms"]),
        "p99_ms": float(row["p99_latency_ms"]),
    }


def pgbench_tap(
    database_url: str, cards: tuple[int, int], clients: int, seconds: float
) -> dict[str, Any]:
    """pgbench with the tap transaction, on cards the HTTP taps never touch."""
    try:
        result = run_tap_pgbench(database_url, *cards, clients, max(1, round(seconds)))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return unavailable(f"pgbench failed: {exc}")
    figures = asdict(result)
    return {
        "available": True,
        "clients": clients,
        "transactions": figures.pop("transactions"),
        "failed": figures.pop("failed"),
        "throughput_per_s": round(figures.pop("tps"), 1),
    } | {name: round(value, 2) for name, value in figures.items()}


def bare_fastapi(workers: int, clients: int, seconds: float, warmup: float) -> dict[str, Any]:
    """One GET returning a small JSON, same workers/loop/http as `serve`, same load generator."""
    request = get_request("127.0.0.1", BARE_PATH, {})
    try:
        with bare_server(workers) as server:
            load_local(server.port, lambda: request, clients, warmup)
            result = load_local(server.port, lambda: request, clients, seconds)
            memory = server_memory(server.pid)
    except RuntimeError as exc:
        return unavailable(f"the bare FastAPI server failed: {exc}")
    return (
        {"available": True, "clients": clients, "workers": workers}
        | result.figures()
        | {"memory": memory}
    )
