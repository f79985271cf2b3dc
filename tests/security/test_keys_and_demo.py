"""The signing key (production refuses a weak one) and demo mode's accounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ServerUrls, client_for, make_settings
from tests.money import new_user
from travel_recharge.accounts.demo import describe, ensure_demo_accounts
from travel_recharge.app import create_app
from travel_recharge.security.keys import WeakSigningKey, key_problem, new_signing_key

LAUNCHER = Path(sys.executable).parent / "travel-recharge"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (None, "TR_AUTH_SIGNING_KEY is not set"),
        ("", "TR_AUTH_SIGNING_KEY is not set"),
        ("short-key-1234", "TR_AUTH_SIGNING_KEY is shorter than 32 characters"),
        ("ab" * 20, "TR_AUTH_SIGNING_KEY repeats too few characters to be random"),
        ("my-Secret-key-for-Travel-Recharge-2026", "TR_AUTH_SIGNING_KEY contains a placeholder word"),  # noqa: E501
        (new_signing_key(), None),
    ],
)  # fmt: skip
def test_key_strength(key: str | None, problem: str | None) -> None:
    assert key_problem(key) == problem


def test_production_refuses_to_create_the_app_without_a_strong_key(
    test_servers: ServerUrls,
) -> None:
    for key in (None, "changeme-changeme-changeme-changeme"):
        settings = make_settings(test_servers, env="production", auth_signing_key=key)
        with pytest.raises(WeakSigningKey, match="refusing to start in production"):
            create_app(settings)
    strong = make_settings(test_servers, env="production", auth_signing_key=new_signing_key())
    assert create_app(strong).state.token_signer.key == strong.auth_signing_key.get_secret_value()  # type: ignore[union-attr]


def test_serve_in_production_without_a_key_exits_2_before_starting_anything(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {"TR_ENV": "production", "TR_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [str(LAUNCHER), "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "refusing to start in production: TR_AUTH_SIGNING_KEY is not set" in done.stderr
    assert "secrets.token_urlsafe" in done.stderr  # says how to make one
    assert not (tmp_path / "data").exists()  # no embedded server was started


async def test_demo_mode_makes_one_account_per_role_and_writes_them_owner_only(
    app: FastAPI, client: httpx.AsyncClient, clean: None, tmp_path: Path
) -> None:
    rider = await new_user(client)
    card = await client.post("/api/v1/cards", json={"card_type": "personalized", "user_id": rider})
    assert card.status_code == 201
    token_url = "http://127.0.0.1:8000/api/v1/auth/token"

    made = await ensure_demo_accounts(app.state.database, tmp_path, token_url)
    assert made.created
    assert made.path == tmp_path / "demo-credentials.json"
    assert made.path.stat().st_mode & 0o777 == 0o600
    on_disk = json.loads(made.path.read_text())
    assert on_disk == {"token_url": token_url, "accounts": made.accounts}
    roles = {account["role"]: account for account in made.accounts}
    assert set(roles) == {"rider", "validator", "recharge_point", "analyst", "operator", "admin"}
    assert roles["rider"]["user_id"] == rider
    assert roles["validator"]["grant_type"] == "client_credentials"
    assert roles["admin"]["grant_type"] == "password"
    printed = describe(made)
    assert all(str(a.get("password") or a["client_secret"]) in printed for a in made.accounts)

    async with client_for(app) as anonymous:
        for role, account in roles.items():
            form = {k: v for k, v in account.items() if k not in ("role", "user_id")}
            response = await anonymous.post("/api/v1/auth/token", data=form)
            assert response.status_code == 200, (role, response.text)
            assert response.json()["scope"] == role

    # The next start finds the file and the accounts in agreement: nothing new, nothing shown.
    again = await ensure_demo_accounts(app.state.database, tmp_path, token_url)
    assert not again.created
    assert again.accounts == made.accounts
    assert describe(again) == f"Demo accounts: see {made.path}"

    # Without the file the secrets are made anew, and the old ones stop working.
    made.path.unlink()
    renewed = await ensure_demo_accounts(app.state.database, tmp_path, token_url)
    assert renewed.created
    old_admin = roles["admin"]
    async with client_for(app) as anonymous:
        form = {
            "grant_type": "password",
            "username": "demo-admin",
            "password": old_admin["password"],
        }
        assert (await anonymous.post("/api/v1/auth/token", data=form)).status_code == 400
