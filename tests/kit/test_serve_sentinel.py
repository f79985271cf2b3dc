"""`travel-recharge serve` with TR_REDIS_SENTINELS: no embedded Valkey, the Sentinels' master.

A real `serve` (launcher and workers) against a real master, two replicas and three Sentinels
(tests.kit.redis_sentinels) and the suite's PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ServerUrls
from tests.kit.redis_sentinels import RedisGroup, epoch_of, running_group
from travel_recharge.cli import infrastructure
from travel_recharge.kit.config import Settings
from travel_recharge.kit.embedded import EmbeddedError


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisGroup]:
    yield from running_group(tmp_path_factory.mktemp("sentinels"))


def test_sentinels_without_a_database_url_are_refused(tmp_path: Path) -> None:
    settings = Settings(
        env="test",
        database_url=None,
        redis_url=None,
        redis_sentinels=["127.30.2.1:26379"],
        data_dir=tmp_path / "data",
    )
    with pytest.raises(EmbeddedError, match="TR_DATABASE_URL"), infrastructure(settings):
        pass
    assert not (tmp_path / "data").exists()


@pytest.mark.e2e
def test_serve_with_sentinels_starts_no_valkey_and_talks_to_the_master(
    test_servers: ServerUrls, group: RedisGroup, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")} | {
        "TR_ENV": "test",
        "TR_DATABASE_URL": test_servers.database_url,
        "TR_REDIS_SENTINELS": json.dumps(group.sentinel_addresses),
        "TR_CACHE_NAMESPACE": f"{test_servers.namespace}-serve",
        "TR_DATA_DIR": str(tmp_path / "data"),
        "TR_ROLLUP_FOLD_INTERVAL_S": "0",
    }
    launcher = Path(sys.executable).parent / "travel-recharge"
    with (tmp_path / "serve.log").open("ab") as log:
        serve = subprocess.Popen(
            [str(launcher), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def healthy_cache() -> dict[str, object] | None:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                body: dict[str, object] = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/health/cache", timeout=2
                ).json()
            except httpx.TransportError:
                return None
            return body if body.get("status") == "ok" else None

        deadline = time.monotonic() + 90
        while (body := healthy_cache()) is None:
            assert time.monotonic() < deadline, "serve did not become healthy"
            time.sleep(0.3)
        master = group.master()
        assert (body["role"], body["master"], body["epoch"]) == (
            "master",
            master.address,
            epoch_of(master),
        )
        launched = psutil.Process(serve.pid)
        tree = [launched, *launched.children(recursive=True)]
        assert len(tree) >= 3  # the launcher and its two workers
        assert not [p for p in tree if "valkey" in p.name() or "redis" in p.name()]
        assert not (tmp_path / "data" / "valkey").exists()
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(10)
