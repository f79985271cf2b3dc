"""`bench suite --url`: the suite's workloads through the cluster's front, on tiny inputs."""

from __future__ import annotations

import json

import pytest

from travel_recharge.bench.front import Front, measure_front
from travel_recharge.cluster.launcher import Cluster

pytestmark = pytest.mark.cluster


def test_the_front_is_measured_beside_the_single_node_with_the_cpu_of_each_role(
    cluster: Cluster,
) -> None:
    front = Front.of_cluster(cluster.topology.state_dir)
    assert front.url == cluster.topology.front_url
    single = {"POST /api/v1/trips/start": {"throughput_per_s": 100.0}}
    report = measure_front(front, single, clients=2, seconds=1, warmup_seconds=0.2, cards=20)
    workloads = report["workloads"]
    assert set(workloads) == {
        "GET /api/v1/cards/{card_id}/balance",
        "GET /api/v1/stations",
        "POST /api/v1/trips/start",
        "POST /api/v1/cards/recharge",
    }
    for name, figures in workloads.items():
        assert figures["requests"] > 0, name
        assert figures["non_2xx"] == 0, (name, figures["statuses"])
        assert figures["cpu_ms_per_request"]["api"] > 0, name
    taps = workloads["POST /api/v1/trips/start"]
    assert taps["statuses"] == {"201": taps["requests"]}
    assert taps["vs_single_node"] == round(taps["throughput_per_s"] / 100.0, 3)
    # A tap is written on the leader and shipped to its standby: both spend CPU on it.
    assert taps["cpu_ms_per_request"]["postgres leader"] > 0
    assert taps["cpu_ms_per_request"]["postgres replicas"] > 0
    assert workloads["GET /api/v1/stations"]["vs_single_node"] is None  # not in `single`
    json.dumps(report)  # the suite writes it as JSON
