"""The cluster's configuration files: what the engines promise rests on a few settings, the
engines' own checkers accept them, and the committed deploy example is the renderer's
output (so it cannot drift from the lab the other cluster tests run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from travel_recharge.cluster import servers
from travel_recharge.cluster.deploy import HostsProblem, load_hosts, render_hosts
from travel_recharge.cluster.profiles import LAB, Profile
from travel_recharge.cluster.topology import Topology
from travel_recharge.cluster.yaml_text import to_yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_HOSTS = ROOT / "deploy" / "cluster" / "hosts.example.toml"
EXAMPLE = ROOT / "deploy" / "cluster" / "example"
RENDER = (
    "travel-recharge cluster render --hosts deploy/cluster/hosts.example.toml"
    " --out deploy/cluster/example"
)


def _lab_files() -> dict[str, str]:
    topology = Topology(site=99, api_nodes=2, state_dir=Path("/srv/lab"))
    return {
        f"{node.name}/{name}": text
        for node in topology.nodes
        for name, text in servers._files(topology, node).items()
    }


def _deploy_files() -> dict[str, str]:
    return render_hosts(load_hosts(EXAMPLE_HOSTS))


def test_the_committed_deploy_example_is_what_the_renderer_writes() -> None:
    committed = {
        str(path.relative_to(EXAMPLE)): path.read_text()
        for path in EXAMPLE.rglob("*")
        if path.is_file()
    }
    rendered = _deploy_files()
    assert sorted(committed) == sorted(rendered), f"regenerate it: {RENDER}"
    drifted = [name for name in rendered if committed[name] != rendered[name]]
    assert drifted == [], f"regenerate it: {RENDER}"


def _patroni(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_patroni_keeps_commits_on_a_standby_and_rewinds_an_old_leader() -> None:
    lab = _patroni(_lab_files()["pg2/patroni.yml"])
    deploy = _patroni(_deploy_files()["db2/etc/patroni/config.yml"])
    for config in (lab, deploy):
        dcs = config["bootstrap"]["dcs"]
        assert dcs["synchronous_mode"] is True
        assert dcs["synchronous_mode_strict"] is False
        assert dcs["failsafe_mode"] is True
        assert dcs["postgresql"]["use_pg_rewind"] is True
        assert dcs["postgresql"]["parameters"]["wal_log_hints"] == "on"
        assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
        assert "data-checksums" in config["bootstrap"]["initdb"]
    assert (lab["name"], lab["restapi"]["connect_address"]) == ("pg2", "127.99.1.2:8008")
    assert lab["etcd3"]["hosts"] == ["127.99.1.10:2379"]
    assert lab["postgresql"]["pg_hba"][1] == "host all all 127.0.0.0/8 trust"
    assert deploy["etcd3"]["hosts"] == ["10.0.1.1:2379", "10.0.1.2:2379", "10.0.1.3:2379"]
    assert deploy["postgresql"]["pg_hba"][1:] == [
        "host all all 10.0.0.0/16 scram-sha-256",
        "host replication replicator 10.0.0.0/16 scram-sha-256",
    ]
    assert (deploy["bootstrap"]["dcs"]["ttl"], lab["bootstrap"]["dcs"]["ttl"]) == (30, 10)


@pytest.mark.parametrize("source", ["lab", "deploy"])
def test_haproxy_accepts_the_rendered_configuration(source: str, tmp_path: Path) -> None:
    files = _lab_files() if source == "lab" else _deploy_files()
    [text] = [text for name, text in files.items() if name.endswith("haproxy.cfg")]
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    checked = subprocess.run(
        ["/usr/sbin/haproxy", "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "Configuration file is valid" in checked.stdout
    assert "WARNING" not in checked.stderr + checked.stdout
    assert "option httpchk OPTIONS /primary" in text
    assert "on-marked-down shutdown-sessions" in text
    assert "retry-on conn-failure empty-response" in text


def test_a_profile_breaking_patronis_timing_rule_is_refused() -> None:
    fields = {name: getattr(LAB, name) for name in LAB.__dataclass_fields__}
    with pytest.raises(ValueError, match="loop_wait"):
        Profile(**(fields | {"ttl": 8, "loop_wait": 1, "retry_timeout": 4}))


def test_yaml_strings_stay_strings() -> None:
    document = {"a": "on", "b": "10", "c": "yes", "d": 10, "e": True, "f": ["no", {"g": "null"}]}
    assert yaml.safe_load(to_yaml(document)) == document


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (('db3 = "10.0.1.3"\n', ""), r"\[database\]: 2 hosts"),
        (('api2 = "10.0.3.2"', 'api2 = "10.0.3.x"'), r"\[api\] api2: '10.0.3.x'"),
        (('clients = "10.0.0.0/16"', 'clients = "everyone"'), "clients"),
    ],
)
def test_a_wrong_hosts_description_is_refused_naming_the_entry(
    change: tuple[str, str], named: str, tmp_path: Path
) -> None:
    hosts = tmp_path / "hosts.toml"
    original = EXAMPLE_HOSTS.read_text()
    assert change[0] in original
    hosts.write_text(original.replace(*change))
    with pytest.raises(HostsProblem, match=named):
        load_hosts(hosts)
    command = [sys.executable, "-m", "travel_recharge.cli", "cluster", "render"]
    refused = subprocess.run(
        [*command, "--hosts", str(hosts), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert not (tmp_path / "out").exists()
