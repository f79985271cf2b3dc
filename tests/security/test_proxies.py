"""Who may say where a request comes from: `serve` trusts X-Forwarded-For from
TR_TRUSTED_PROXIES only, never from loopback by default (security issue #18, finding 3).

The real `travel-recharge serve` process on the session's database and Redis, reached over
a socket from 127.0.0.1: the header it is sent decides nothing unless the peer is trusted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SIGNING_KEY, ServerUrls
from travel_recharge.kit.embedded import free_port

pytestmark = pytest.mark.e2e

LAUNCHER = Path(sys.executable).parent / "travel-recharge"
TOKEN = "/api/v1/auth/token"
# Every attempt counts per address (3 a minute); failures per login and address do not limit.
LIMITS = {"auth": {"principal": "1000/minute", "ip": "3/minute"}}


@contextmanager
def served(test_servers: ServerUrls, tmp_path: Path, **env: str) -> Iterator[str]:
    """`travel-recharge serve` on a free port, with its own cache namespace; its base URL."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    environment |= {
        "TR_ENV": "test",
        "TR_DATABASE_URL": test_servers.database_url,
        "TR_REDIS_URL": test_servers.redis_url,
        "TR_CACHE_NAMESPACE": f"{test_servers.namespace}px{uuid.uuid4().hex[:10]}",
        "TR_AUTH_SIGNING_KEY": TEST_SIGNING_KEY,
        "TR_RATE_LIMITS": json.dumps(LIMITS),
        "TR_ROLLUP_FOLD_INTERVAL_S": "0",
        "TR_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    log = (tmp_path / f"serve-{port}.log").open("wb")
    launcher = subprocess.Popen(
        [str(LAUNCHER), "serve", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert launcher.poll() is None, (tmp_path / f"serve-{port}.log").read_text()
            assert time.monotonic() < deadline, "serve did not become healthy in time"
            try:
                if httpx.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield base_url
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=20)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
        log.close()


def token_statuses(base_url: str, forwarded_for: list[str]) -> list[int]:
    form = {"grant_type": "password", "username": "no.such.login", "password": "guess"}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        return [
            client.post(TOKEN, data=form, headers={"X-Forwarded-For": address}).status_code
            for address in forwarded_for
        ]


def test_by_default_a_made_up_forwarded_address_changes_nothing(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    # Even uvicorn's own variable cannot make the service trust a header from everyone.
    with served(test_servers, tmp_path, FORWARDED_ALLOW_IPS="*") as base_url:
        statuses = token_statuses(base_url, [f"198.51.100.{i}" for i in range(5)])
    # One client (127.0.0.1), whatever address each request claimed.
    assert statuses == [400, 400, 400, 429, 429]


def test_a_trusted_proxy_names_the_client_and_ipv6_clients_count_per_64(
    test_servers: ServerUrls, tmp_path: Path
) -> None:
    trusted = json.dumps(["127.0.0.1", "10.20.0.0/16"])
    with served(test_servers, tmp_path, TR_TRUSTED_PROXIES=trusted) as base_url:
        different = token_statuses(base_url, [f"198.51.100.{i}" for i in range(5)])
        one_client = token_statuses(base_url, ["198.51.100.0"] * 3)
        one_64 = token_statuses(base_url, [f"2001:db8:0:7::{i}" for i in range(1, 5)])
        # Through two proxies: the client is the last address no trusted proxy stands for;
        # what the client itself wrote in front of it is not believed.
        chained = token_statuses(
            base_url, [f"203.0.113.{i}, 192.0.2.50, 10.20.3.4" for i in range(4)]
        )
    assert different == [400] * 5  # each its own client
    assert one_client == [400, 400, 429]  # 198.51.100.0's 4th attempt
    assert one_64 == [400, 400, 400, 429]
    assert chained == [400, 400, 400, 429]
