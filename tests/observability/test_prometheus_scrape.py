"""A real Prometheus scrapes the real service as deploy/prometheus.yml says (an OAuth2
client-credentials grant against our token endpoint), loads the alert rules, and gives a
business metric back through its query API."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import Network, ServerUrls
from tests.observability.test_alerting import DEPLOY, RULES, alerts, run
from travel_recharge.bench.server import authorization, service_process
from travel_recharge.cluster.waiting import wait_until
from travel_recharge.kit.embedded import free_port
from travel_recharge.security.roles import Role

pytestmark = pytest.mark.e2e

# Generous: Prometheus scrapes every second here, but a loaded 2-core machine is slow.
PATIENCE_S = 90


def scrape_config(service: str, login: str, secret_file: Path) -> dict[str, Any]:
    """deploy/prometheus.yml pointed at this test's service and secret, scraping each second."""
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(RULES)]
    del config["alerting"]  # no Alertmanager here
    (job,) = config["scrape_configs"]
    job |= {"scrape_interval": "1s", "scrape_timeout": "1s"}
    job["oauth2"] |= {
        "client_id": login,
        "client_secret_file": str(secret_file),
        "token_url": f"{service}/api/v1/auth/token",
    }
    job["static_configs"][0]["targets"] = [service.removeprefix("http://")]
    return config


@contextmanager
def prometheus(config: dict[str, Any], directory: Path) -> Iterator[str]:
    """A Prometheus process with this configuration; yields its address once ready."""
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    checked = run("promtool", "check", "config", str(config_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config_file}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert process.poll() is None, (directory / "prometheus.log").read_text()
            try:
                return httpx.get(f"{address}/-/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until("Prometheus to be ready", PATIENCE_S, ready)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def query(address: str, promql: str) -> float | None:
    """The single value of an instant query, or None while it has no result."""
    answer = httpx.get(f"{address}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    results = answer["data"]["result"]
    return float(results[0]["value"][1]) if results else None


def test_prometheus_reads_the_recharges_back_through_its_query_api(
    test_servers: ServerUrls, network: Network, tmp_path: Path
) -> None:
    environment = {
        "TR_DATABASE_URL": test_servers.database_url,
        "TR_REDIS_URL": test_servers.redis_url,
        "TR_CACHE_NAMESPACE": f"{test_servers.namespace}prom{uuid.uuid4().hex[:8]}",
        "TR_DATA_DIR": str(tmp_path / "service"),
        "TR_ROLLUP_FOLD_INTERVAL_S": "0",
    }
    admin = authorization(Role.admin)
    with service_process(environment, workers=2) as server:
        service = f"http://127.0.0.1:{server.port}"
        # Prometheus' own device account, as deploy/prometheus.yml tells operators to make.
        login = f"prometheus-{uuid.uuid4().hex[:8]}"
        made = httpx.post(
            f"{service}/api/v1/auth/accounts",
            json={"login": login, "role": "analyst", "kind": "client"},
            headers=admin,
            timeout=10,
        )
        assert made.status_code == 201, made.text
        secret_file = tmp_path / "prometheus-secret"
        secret_file.write_text(made.json()["secret"])
        secret_file.chmod(0o600)

        card = httpx.post(
            f"{service}/api/v1/cards", json={"card_type": "basic"}, headers=admin, timeout=10
        )
        assert card.status_code == 201, card.text
        for amount in (5000, 7000):
            recharged = httpx.post(
                f"{service}/api/v1/cards/recharge",
                json={
                    "card_id": card.json()["card_id"],
                    "amount": amount,
                    "recharge_point_id": network.counter,
                },
                headers=admin | {"Idempotency-Key": uuid.uuid4().hex},
                timeout=10,
            )
            assert recharged.status_code == 201, recharged.text

        config = scrape_config(service, login, secret_file)
        (tmp_path / "prometheus").mkdir()
        with prometheus(config, tmp_path / "prometheus") as address:
            recharges = 'sum(travel_recharge_recharges_total{channel="counter"})'
            assert (
                wait_until(
                    "the recharges in Prometheus", PATIENCE_S, lambda: query(address, recharges)
                )
                == 2
            )
            pesos = 'sum(travel_recharge_recharged_pesos_total{channel="counter"})'
            assert query(address, pesos) == 12000
            assert query(address, 'up{job="travel-recharge"}') == 1
            # Both workers' pools (10 + 10 overflow each by default), summed across their
            # files: the saturation alert's divisor.
            capacity = 'travel_recharge_db_pool_connections_max{pool="primary"}'
            assert query(address, capacity) == 40

            # The shipped rules loaded, every alert of them, and none fires on this service.
            groups = httpx.get(f"{address}/api/v1/rules", timeout=5).json()["data"]["groups"]
            loaded = {rule["name"]: rule for g in groups for rule in g["rules"]}
            assert set(alerts()) <= set(loaded)
            assert all(rule["health"] != "err" for rule in loaded.values())
            assert httpx.get(f"{address}/api/v1/alerts", timeout=5).json()["data"]["alerts"] == []
