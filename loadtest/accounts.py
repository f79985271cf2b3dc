"""The run's accounts: the admin behind the set-up, the accounts it makes, their tokens."""

from __future__ import annotations

import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api import TOKEN, SetupError, setup_request
from locust.env import Environment
from options import option

logger = logging.getLogger("loadtest")

# Sign in again this long before a token expires, so no request goes out with a dead one.
RENEW_BEFORE_S = 60.0
SETUP_CONCURRENCY = 4


@dataclass(frozen=True)
class Account:
    """A simulated person's or device's account: the fields of its token request, and for a
    device the one validator or recharge point it is bound to (all its requests name)."""

    login: str
    form: dict[str, str]
    validator_id: str | None = None
    recharge_point_id: int | None = None


def renewal_s(expires_in: float) -> float:
    """When to sign in again: a minute before the token expires (halfway for short ones)."""
    return max(float(expires_in) - RENEW_BEFORE_S, float(expires_in) / 2)


class AdminAuth:
    """The admin behind the set-up: a fixed token, or credentials signed in when needed."""

    def __init__(self, host: str, token: str, account: Account | None) -> None:
        self._host = host
        self._token = token
        self.account = account
        self._renew_at = math.inf if token else 0.0

    def header(self) -> dict[str, str]:
        if self.account is not None and time.monotonic() >= self._renew_at:
            answer = setup_request(self._host, "POST", TOKEN, form=self.account.form)
            self._token = answer["access_token"]
            self._renew_at = time.monotonic() + renewal_s(answer["expires_in"])
        return {"Authorization": f"Bearer {self._token}"}


@dataclass
class Token:
    header: dict[str, str]
    renew_at: float


def admin_auth(environment: Environment, host: str) -> AdminAuth:
    token = option(environment, "admin_token")
    if token:
        return AdminAuth(host, token.removeprefix("Bearer ").strip(), None)
    username = option(environment, "admin_username")
    password = option(environment, "admin_password")
    if not (username and password):
        path = Path(option(environment, "data_dir") or ".data") / "demo-credentials.json"
        try:
            accounts = json.loads(path.read_text())["accounts"]
            demo = next(a for a in accounts if a.get("role") == "admin")
            username, password = demo["username"], demo["password"]
        except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
            raise SetupError(
                "no admin: give LOCUST_ADMIN_TOKEN, or LOCUST_ADMIN_USERNAME and "
                f"LOCUST_ADMIN_PASSWORD, or run the demo that writes {path}"
            ) from exc
    form = {"grant_type": "password", "username": username, "password": password}
    return AdminAuth(host, "", Account(username, form))


def make_accounts(
    host: str, admin: AdminAuth, requests: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Accounts made by the admin, a few at a time (each is an argon2 hash on the server);
    if one cannot be made, those made are deactivated again."""
    made: list[dict[str, Any]] = []

    def create(request: dict[str, Any]) -> None:
        path = "/api/v1/auth/accounts"
        made.append(setup_request(host, "POST", path, body=request, headers=admin.header()))

    try:
        with ThreadPoolExecutor(SETUP_CONCURRENCY) as pool:
            list(pool.map(create, requests))
    except SetupError:
        deactivate_accounts(host, admin, [account["login"] for account in made])
        raise
    return made


def person_account(made: dict[str, Any]) -> Account:
    form = {"grant_type": "password", "username": made["login"], "password": made["secret"]}
    return Account(made["login"], form)


def device_account(made: dict[str, Any]) -> Account:
    form = {
        "grant_type": "client_credentials",
        "client_id": made["login"],
        "client_secret": made["secret"],
    }
    return Account(made["login"], form, made["validator_id"], made["recharge_point_id"])


def deactivate_accounts(host: str, admin: AdminAuth, logins: list[str]) -> None:
    def deactivate(login: str) -> None:
        try:
            setup_request(
                host, "POST", f"/api/v1/auth/accounts/{login}/deactivate", headers=admin.header()
            )
        except SetupError as exc:
            logger.warning("loadtest.deactivate_failed login=%s %s", login, exc)

    with ThreadPoolExecutor(SETUP_CONCURRENCY) as pool:
        list(pool.map(deactivate, logins))
