"""Audit events: who did what to what, for every change an investigation must attribute, and
never a secret, a token, a block reason or a rider's name. `/users/latest` shows a rider's
full name only to the roles that need it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Network, bearer, client_for
from tests.money import new_card, new_user
from travel_recharge.accounts.schemas import AccountCreate
from travel_recharge.cli import _create_account, command_line_actor
from travel_recharge.kit.audit import SystemActor, audit
from travel_recharge.kit.config import Settings
from travel_recharge.security.roles import Role

# Accounts, users and cards made here go with the tables `clean` empties.
pytestmark = pytest.mark.usefixtures("clean")

ADMIN_ID, OPERATOR_ID, RIDER_ID = 71, 72, 73


@dataclass(frozen=True)
class Line:
    """One captured log record: its event and fields, and everything it would print."""

    event: str
    fields: dict[str, Any]
    text: str


class AuditLog:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def lines(self) -> list[Line]:
        found = []
        for record in self._caplog.records:
            fields = dict(getattr(record, "fields", None) or {})
            found.append(Line(record.getMessage(), fields, f"{record.getMessage()} {fields}"))
        return found

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line.fields for line in self.lines() if line.event == event]

    def one(self, event: str) -> dict[str, Any]:
        events = self.events(event)
        assert len(events) == 1, (event, [line.event for line in self.lines()])
        return events[0]

    def never_shows(self, *values: str) -> None:
        for line in self.lines():
            for value in values:
                assert value not in line.text, (line.event, value)


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> AuditLog:
    # Every logger of the service, not only the audit one: no line may carry a secret.
    caplog.set_level(logging.DEBUG, logger="travel_recharge")
    return AuditLog(caplog)


def as_role(app: FastAPI, role: Role, account_id: int, **kwargs: Any) -> httpx.AsyncClient:
    return client_for(app, bearer(app, role, account_id=account_id, **kwargs))


def _token(client: httpx.AsyncClient) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def actor_of(fields: dict[str, Any]) -> tuple[object, object, object]:
    return fields["actor_id"], fields["actor_login"], fields["actor_role"]


async def test_account_creation_and_deactivation_name_the_admin_never_the_secret(
    app: FastAPI, audit_log: AuditLog
) -> None:
    async with as_role(app, Role.admin, ADMIN_ID) as admin:
        created = await admin.post(
            "/api/v1/auth/accounts", json={"login": "audit-analyst", "role": "analyst"}
        )
        assert created.status_code == 201, created.text
        account = created.json()
        deactivated = await admin.post("/api/v1/auth/accounts/audit-analyst/deactivate")
        assert deactivated.status_code == 200
        token = _token(admin)
    made = audit_log.one("audit.account.created")
    assert actor_of(made) == (ADMIN_ID, "test-admin", "admin")
    assert made["target"] == f"account:{account['account_id']}"
    assert (made["login"], made["role"], made["kind"]) == ("audit-analyst", "analyst", "person")
    gone = audit_log.one("audit.account.deactivated")
    assert actor_of(gone) == (ADMIN_ID, "test-admin", "admin")
    assert gone["target"] == f"account:{account['account_id']}"
    audit_log.never_shows(account["secret"], token)


async def test_an_account_made_on_the_command_line_names_the_machines_user(
    settings: Settings, audit_log: AuditLog
) -> None:
    created = await _create_account(settings, AccountCreate(login="audit-cli", role="operator"))
    made = audit_log.one("audit.account.created")
    actor = command_line_actor()
    assert actor_of(made) == (None, actor.login, "command_line")
    assert actor.login.startswith("cli:")
    assert made["target"] == f"account:{created.account_id}"
    audit_log.never_shows(created.secret)


async def _owner_of(app: FastAPI, card_id: int) -> int:
    async with app.state.database.primary.connect() as connection:
        result = await connection.exec_driver_sql(
            f"SELECT user_id FROM cards WHERE id = {card_id}"  # noqa: S608
        )
        return int(result.scalar_one())


async def test_card_blocks_name_who_blocked_but_not_the_reason(
    app: FastAPI, client: httpx.AsyncClient, network: Network, audit_log: AuditLog
) -> None:
    card_id = await new_card(client, "personalized")
    rider_id = await _owner_of(app, card_id)
    reason = "perdida en TransMilenio, cédula 1020304050"
    rider = as_role(app, Role.rider, RIDER_ID, user_id=rider_id)
    operator = as_role(app, Role.operator, OPERATOR_ID)
    async with rider, operator:
        blocked = await rider.post(f"/api/v1/cards/{card_id}/block", json={"reason": reason})
        assert blocked.status_code == 200, blocked.text
        again = await operator.post(f"/api/v1/cards/{card_id}/block", json={"reason": "x"})
        assert again.status_code == 409  # refused: nothing happened, nothing is audited
        unblocked = await operator.post(f"/api/v1/cards/{card_id}/unblock")
        assert unblocked.status_code == 200
        tokens = [_token(rider), _token(operator)]
    block = audit_log.one("audit.card.blocked")
    assert actor_of(block) == (RIDER_ID, "test-rider", "rider")
    assert block["target"] == f"card:{card_id}"
    unblock = audit_log.one("audit.card.unblocked")
    assert actor_of(unblock) == (OPERATOR_ID, "test-operator", "operator")
    assert unblock["target"] == f"card:{card_id}"
    audit_log.never_shows(reason, "1020304050", "Ana Rider", *tokens)


async def test_alert_writes_name_the_operator(
    app: FastAPI, network: Network, audit_log: AuditLog
) -> None:
    message = "Entrada norte cerrada por obras; use la entrada sur."
    async with as_role(app, Role.operator, OPERATOR_ID) as operator:
        created = await operator.post(
            "/api/v1/alerts",
            json={
                "station_id": network.trunk_station,
                "severity": "warning",
                "cause": "CONSTRUCTION",
                "effect": "STOP_MOVED",
                "message": message,
            },
        )
        assert created.status_code == 201, created.text
        alert_id = created.json()["alert_id"]
        changed = await operator.patch(f"/api/v1/alerts/{alert_id}", json={"severity": "severe"})
        assert changed.status_code == 200
        resolved = await operator.post(f"/api/v1/alerts/{alert_id}/resolve")
        assert resolved.status_code == 200
    for event in ("audit.alert.created", "audit.alert.updated", "audit.alert.resolved"):
        fields = audit_log.one(event)
        assert actor_of(fields) == (OPERATOR_ID, "test-operator", "operator")
        assert fields["target"] == f"alert:{alert_id}"
    assert audit_log.one("audit.alert.created")["station_id"] == network.trunk_station
    assert audit_log.one("audit.alert.updated")["fields"] == "severity"


async def test_cache_clears_and_key_deletions_name_the_admin(
    app: FastAPI, audit_log: AuditLog
) -> None:
    cache = app.state.cache
    await cache.set("audit:probe", b"1", 60)
    async with as_role(app, Role.admin, ADMIN_ID) as admin:
        deleted = await admin.delete(f"/api/v1/cache/key/{cache.key('audit:probe')}")
        assert deleted.status_code == 200, deleted.text
        cleared = await admin.post("/api/v1/cache/clear")
        assert cleared.status_code == 200
    one = audit_log.one("audit.cache.key_deleted")
    assert actor_of(one) == (ADMIN_ID, "test-admin", "admin")
    assert (one["target"], one["outcome"]) == (f"cache:{cache.key('audit:probe')}", "deleted")
    everything = audit_log.one("audit.cache.cleared")
    assert actor_of(everything) == (ADMIN_ID, "test-admin", "admin")
    assert everything["target"] == f"cache:{cache.namespace}:*"
    assert everything["deleted"] == cleared.json()["deleted"]


async def test_the_latest_rider_shows_a_full_name_only_to_admins(
    app: FastAPI, client: httpx.AsyncClient, network: Network
) -> None:
    response = await client.post(
        "/api/v1/users", json={"full_name": "María José Pérez Rider", "document_id": "AUD-1"}
    )
    assert response.status_code == 201
    user_id = response.json()["user_id"]
    seen = {}
    for role in (Role.admin, Role.analyst, Role.admin, Role.analyst):  # cached in between
        async with as_role(app, role, ADMIN_ID if role is Role.admin else 74) as caller:
            answer = await caller.get("/api/v1/users/latest")
            assert answer.status_code == 200
            seen[role] = answer.json()["latest_user"]
    assert seen[Role.admin] == {"user_id": user_id, "full_name": "María José Pérez Rider"}
    assert seen[Role.analyst] == {"user_id": user_id, "full_name": "M. J. P. R."}


async def test_a_registered_rider_is_never_named_in_the_logs(
    client: httpx.AsyncClient, network: Network, audit_log: AuditLog
) -> None:
    await new_user(client, "DOC-778899")
    audit_log.never_shows("Ana Rider", "DOC-778899")


def test_audit_refuses_details_that_could_carry_secrets_or_personal_data() -> None:
    actor = SystemActor("test")
    for name in ("secret", "client_secret", "password", "access_token", "card_number",
                 "full_name", "document_id", "secret_hash"):  # fmt: skip
        with pytest.raises(ValueError, match="must not carry"):
            audit("account.created", actor, "account:1", **{name: "x"})


def test_audit_of_a_transaction_waits_for_its_commit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="travel_recharge.audit")

    class Hooks:
        def __init__(self) -> None:
            self.hooks: list[Any] = []

        def after_commit(self, hook: Any) -> None:
            self.hooks.append(hook)

    hooks = Hooks()
    audit("card.blocked", SystemActor("test"), "card:1", after_commit=hooks)
    assert caplog.records == []  # a rollback would drop the hook with the transaction
    asyncio.run(hooks.hooks[0]())
    assert [record.getMessage() for record in caplog.records] == ["audit.card.blocked"]
