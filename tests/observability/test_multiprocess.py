"""The real server with two workers: one scrape of /metrics sums what both served."""

from __future__ import annotations

import os
import signal
import struct
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import ServerUrls
from tests.observability.samples import PREFIX, scraped
from travel_recharge.bench.server import authorization, service_process
from travel_recharge.observability.exposition import process_alive
from travel_recharge.security.roles import Role

pytestmark = pytest.mark.e2e

ROUTE = "/api/v1/fares"
BATCH = 40


def served_by_worker(directory: Path) -> dict[int, float]:
    """Requests to ROUTE per worker pid, read from each worker's own counter file."""
    counts: dict[int, float] = {}
    for file in directory.glob("counter_*.db"):
        pid = int(file.stem.rsplit("_", 1)[-1])
        try:
            metrics = MultiProcessCollector.merge([str(file)], accumulate=False)
        except struct.error:
            continue  # a worker starting late is creating its file: nothing served yet
        for metric in metrics:
            for sample in metric.samples:
                if (
                    sample.name == f"{PREFIX}_http_requests_total"
                    and sample.labels.get("route") == ROUTE
                ):
                    counts[pid] = counts.get(pid, 0.0) + sample.value
    return counts


def fresh_get(url: str) -> int:
    # A new connection per request: the kernel hands each to whichever worker accepts first.
    return httpx.get(url, timeout=10).status_code


def test_one_scrape_sums_the_requests_of_every_worker(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    environment = {
        "TR_DATABASE_URL": test_servers.database_url,
        "TR_REDIS_URL": test_servers.redis_url,
        "TR_CACHE_NAMESPACE": f"{test_servers.namespace}metrics{uuid.uuid4().hex[:8]}",
        "TR_DATA_DIR": str(tmp_path),
        "TR_ROLLUP_FOLD_INTERVAL_S": "0",
    }
    with service_process(environment, workers=2) as server:
        base = f"http://127.0.0.1:{server.port}"
        directory = tmp_path / "metrics" / str(server.pid)
        made = 0
        # Until both workers have served: the server answers as soon as one is up, and on a
        # loaded machine the other may start much later (a generous deadline, no verdict).
        deadline = time.monotonic() + 180
        with ThreadPoolExecutor(max_workers=8) as pool:
            while len([n for n in served_by_worker(directory).values() if n > 0]) < 2:
                assert time.monotonic() < deadline, "the second worker never served"
                statuses = list(pool.map(fresh_get, [base + ROUTE] * BATCH))
                assert set(statuses) == {200}
                made += BATCH
        per_worker = served_by_worker(directory)
        assert len([n for n in per_worker.values() if n > 0]) == 2, per_worker
        assert sum(per_worker.values()) == made

        scrape = httpx.get(base + "/metrics", headers=authorization(Role.admin), timeout=10)
        assert scrape.status_code == 200
        assert scraped(scrape.text, "http_requests_total", route=ROUTE, method="GET") == made
        assert scraped(scrape.text, "http_request_duration_seconds_count", route=ROUTE) == made
        assert f'{PREFIX}_db_pool_connections_in_use{{pool="primary"}} 0.0' in scrape.text

        # The JSON summary reads the same files: both workers' requests and cache lookups.
        summary = httpx.get(
            base + "/api/v1/metrics/summary", headers=authorization(Role.operator), timeout=10
        )
        assert summary.status_code == 200
        assert summary.json()["all_workers"] is True
        (row,) = [
            r for r in summary.json()["endpoints"] if (r["method"], r["route"]) == ("GET", ROUTE)
        ]
        assert (row["requests"], row["errors"], row["client_errors"]) == (made, 0, 0)
        assert row["p50_ms"] is not None
        (fares,) = [r for r in summary.json()["cache"]["namespaces"] if r["namespace"] == "fares"]
        assert fares["hits"] + fares["misses"] == made  # one lookup per request
        assert fares["hits"] == scraped(scrape.text, "cache_hits_total", namespace="fares")

        # A worker that dies: what it served still counts; its live gauges are forgotten.
        workers = [int(f.stem.rsplit("_", 1)[-1]) for f in directory.glob("gauge_livesum_*.db")]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 60  # a generous deadline: never a verdict on speed
        while process_alive(workers[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not process_alive(workers[0]), "the killed worker is still there"
        scrape = httpx.get(base + "/metrics", headers=authorization(Role.admin), timeout=10)
        assert scrape.status_code == 200
        assert scraped(scrape.text, "http_requests_total", route=ROUTE, method="GET") == made
        assert not (directory / f"gauge_livesum_{workers[0]}.db").exists()
