"""The alert rules and the Alertmanager configuration, checked by Prometheus' own tools.

promtool and amtool are Debian's (packages prometheus and prometheus-alertmanager, which
`make test` installs).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"
ALERTMANAGER = DEPLOY / "prometheus" / "alertmanager.yml"
RECEIVER_BY_SEVERITY = {"critical": "on-call", "warning": "team-channel"}


def run(tool: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which(tool)
    assert path is not None, f"{tool} is missing: `make test` installs it from Debian"
    return subprocess.run(
        [path, *arguments], capture_output=True, text=True, timeout=120, check=False
    )


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def test_the_rules_are_valid() -> None:
    result = run("promtool", "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_rule_unit_tests_pass() -> None:
    result = run("promtool", "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """Each alert fires on a synthetic series somewhere in the rule tests, and stays quiet
    on a healthy one (an empty exp_alerts)."""
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fired == set(alerts())
    assert quiet == set(alerts())


def test_every_alert_has_a_routed_severity_and_a_summary() -> None:
    for name, alert in alerts().items():
        assert alert["labels"]["severity"] in RECEIVER_BY_SEVERITY, name
        assert alert["annotations"]["summary"], name


def test_the_alertmanager_configuration_is_valid() -> None:
    result = run("amtool", "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "2 receivers" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        *((f"severity={severity}", name) for severity, name in RECEIVER_BY_SEVERITY.items()),
        ("alertname=Unlabelled", "team-channel"),
    ],
)
def test_alerts_are_routed_by_severity(labels: str, receiver: str) -> None:
    result = run("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}", labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]
