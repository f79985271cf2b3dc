"""Resident memory of the service's processes, PostgreSQL and Redis, read with psutil.

PostgreSQL is found through our own connection: `pg_backend_pid()` names a backend, whose
parent is the postmaster, whose children are every backend and helper of that cluster. That
works whatever the data directory or the OS user, and only when the server runs on this
machine (otherwise it is reported as unavailable). Backends share PostgreSQL's buffers, so
the sum of their RSS counts shared pages once per process; the PSS sum (proportional share)
counts them once and is the fairer figure where the kernel lets us read it.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import psutil
import redis
from sqlalchemy.engine import make_url

from travel_recharge.kit.scratch import libpq_url

MB = 1024 * 1024
WORKER_LIMIT_MB = 200  # the target: each worker under this at the end of the mixed run
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _rss_mb(process: psutil.Process) -> float:
    return round(process.memory_info().rss / MB, 1)


def _pss_mb(processes: list[psutil.Process]) -> float | None:
    try:
        return round(sum(p.memory_full_info().pss for p in processes) / MB, 1)
    except (psutil.AccessDenied, AttributeError):  # another user's process, or not Linux
        return None


def server_memory(pid: int, limit_mb: float = WORKER_LIMIT_MB) -> dict[str, Any]:
    """RSS of a uvicorn launcher and its workers; with one worker the launcher serves."""
    launcher = psutil.Process(pid)
    children = launcher.children(recursive=True)
    # multiprocessing's resource tracker is a helper of the launcher, not a worker.
    helpers = [c for c in children if "resource_tracker" in " ".join(c.cmdline())]
    workers = [c for c in children if c not in helpers]
    named = [("launcher", launcher)]
    named += [(f"worker {n}", w) for n, w in enumerate(workers, start=1)]
    named += [(f"helper {n}", h) for n, h in enumerate(helpers, start=1)]
    processes = {name: {"pid": p.pid, "rss_mb": _rss_mb(p)} for name, p in named}
    serving = [name for name in processes if name.startswith("worker")] or ["launcher"]
    return {
        "worker_limit_mb": limit_mb,
        "processes": processes,
        "total_rss_mb": round(sum(p["rss_mb"] for p in processes.values()), 1),
        "workers_over_limit": [n for n in serving if processes[n]["rss_mb"] > limit_mb],
        "serving": serving,
    }


def postgres_memory(database_url: str) -> dict[str, Any]:
    url = make_url(database_url)
    host = url.host or str(url.query.get("host") or "")
    if host and not host.startswith("/") and host not in LOCAL_HOSTS:
        return {"available": False, "reason": f"PostgreSQL runs on {host}, not here"}
    return asyncio.run(_postgres_memory(database_url))


async def _postgres_memory(database_url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        # Measured while our backend is alive: it is the way to the postmaster.
        backend_pid = int(await connection.fetchval("SELECT pg_backend_pid()"))
        try:
            postmaster = psutil.Process(backend_pid).parent()
            if postmaster is None or postmaster.name() not in ("postgres", "postmaster"):
                raise psutil.NoSuchProcess(backend_pid)
            cluster = [postmaster] + [c for c in postmaster.children() if c.pid != backend_pid]
            rss = sum(p.memory_info().rss for p in cluster)
        except psutil.Error:
            return {"available": False, "reason": "PostgreSQL's processes are not visible here"}
        return {
            "available": True,
            "processes": len(cluster),
            "rss_sum_mb": round(rss / MB, 1),
            "pss_sum_mb": _pss_mb(cluster),
        }
    finally:
        await connection.close()


def redis_memory(redis_url: str) -> dict[str, Any]:
    """Redis' own account (INFO memory) and, when it runs here, its process's RSS."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        memory = client.info("memory")
        pid = int(client.info("server")["process_id"])
    except redis.RedisError as exc:
        return {"available": False, "reason": f"Redis did not answer: {exc}"}
    finally:
        client.close()
    figures: dict[str, Any] = {
        "available": True,
        "used_memory_mb": round(int(memory["used_memory"]) / MB, 1),
        "used_memory_rss_mb": round(int(memory["used_memory_rss"]) / MB, 1),
        "process_rss_mb": None,
    }
    if (urlsplit(redis_url).hostname or "") in LOCAL_HOSTS:
        try:
            process = psutil.Process(pid)
            if any(name in process.name() for name in ("redis", "valkey")):
                figures["process_rss_mb"] = _rss_mb(process)
        except psutil.Error:
            pass
    return figures
