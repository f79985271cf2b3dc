"""One real cluster (site 50) for every test that asks for it, brought up once per session.

Patroni + etcd, three PostgreSQL nodes, HAProxy, Redis with two replicas and three
Sentinels, and two API nodes of one worker each (the machine has two cores). The API nodes
sign with the suite's TEST_SIGNING_KEY, so a test mints its own tokens (`authorization`),
and run without rate limits, since every request of a test comes from one address.

A test that breaks something uses `healthy_cluster`: the cluster is whole when it starts,
and whatever the test killed is started again and waited on afterwards, so the next test
never inherits a fault. Tests that use the cluster are marked `cluster` (`-m cluster`
selects them, `-m "not cluster"` leaves them out); plain `pytest` runs them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import TEST_ACCOUNT_ID, TEST_SIGNING_KEY
from travel_recharge.bench.server import signed_authorization
from travel_recharge.cluster.launcher import Cluster
from travel_recharge.cluster.topology import Topology
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal

# TR_TEST_CLUSTER_SITE: another site, for a second suite running beside this one.
SITE = int(os.environ.get("TR_TEST_CLUSTER_SITE", "50"))
# Tests that need the cluster's processes gone run after every other test of the session.
LAST = "cluster_last"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)
    # The tests marked LAST (they take the cluster down) run right after the last other test
    # that uses the cluster: not before one, and not at the end of the whole session, which
    # would keep the cluster's servers running (and the two cores busy) through the rest.
    last = [item for item in items if item.get_closest_marker(LAST) is not None]
    if not last:
        return
    rest = [item for item in items if item.get_closest_marker(LAST) is None]
    users = [n for n, item in enumerate(rest) if item.get_closest_marker("cluster") is not None]
    at = users[-1] + 1 if users else len(rest)
    items[:] = rest[:at] + last + rest[at:]


# Which test session a state directory belongs to: "<pid> <start time>".
OWNER_FILE = "test-session"


def _owner_alive(state_dir: Path) -> bool:
    try:
        pid, started = (state_dir / OWNER_FILE).read_text().split()
        return abs(psutil.Process(int(pid)).create_time() - float(started)) < 0.05
    except (OSError, ValueError, psutil.Error):
        return False


def _stop_abandoned_clusters() -> None:
    """The clusters of earlier sessions that died before their teardown (killed, or
    interrupted twice): stopped and removed, unless their session still runs."""
    for state_dir in Path(tempfile.gettempdir()).glob(f"tr-cluster-{SITE}-*"):
        if not _owner_alive(state_dir):
            Cluster(Topology(site=SITE, state_dir=state_dir)).down()
            shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    _stop_abandoned_clusters()
    # Not under pytest's temporary root: it is 0700, and the servers run as an unprivileged
    # user (when the suite runs as root) who must reach their files.
    state_dir = Path(tempfile.mkdtemp(prefix=f"tr-cluster-{SITE}-"))
    session = psutil.Process()
    (state_dir / OWNER_FILE).write_text(f"{session.pid} {session.create_time()}\n")
    topology = Topology(site=SITE, api_nodes=2, workers=1, state_dir=state_dir)
    environment = dict(os.environ) | {
        "TR_AUTH_SIGNING_KEY": TEST_SIGNING_KEY,
        "TR_RATE_LIMITS_ENABLED": "false",
    }
    try:
        started = Cluster.up(topology, environment=environment)  # stops what it started if it fails
        yield started
        started.down()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def healthy_cluster(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster, whole before the test and made whole again after it."""
    cluster.wait_healthy()
    yield cluster
    cluster.restore()


def authorization(
    role: Role, *, account_id: int = TEST_ACCOUNT_ID, recharge_point_id: int | None = None
) -> dict[str, str]:
    """An Authorization header the cluster's API nodes accept (they share the test key)."""
    principal = Principal(
        account_id, f"cluster-test-{role}", role, recharge_point_id=recharge_point_id
    )
    return signed_authorization(TEST_SIGNING_KEY, principal, 900)
