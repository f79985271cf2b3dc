"""Demo mode: one account per role, with random secrets written to the data directory.

Nothing secret is in the repository: the secrets are made on the machine at the first start
(and again whenever the file or the accounts went missing), stored as argon2 hashes in the
database and in clear only in <data dir>/demo-credentials.json, readable by its owner only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.accounts import repository
from travel_recharge.cards import service as cards
from travel_recharge.kit.db import Database
from travel_recharge.security.hashing import hash_secret, new_secret
from travel_recharge.security.roles import DEVICE_ROLES, Role

CREDENTIALS_FILE = "demo-credentials.json"


@dataclass(frozen=True)
class DemoCredentials:
    path: Path
    accounts: list[dict[str, Any]]
    created: bool  # new secrets were made at this start


def _login(role: Role) -> str:
    return f"demo-{role.value.replace('_', '-')}"


def _entry(role: Role, secret: str, user_id: int | None) -> dict[str, Any]:
    if role in DEVICE_ROLES:
        grant = {"grant_type": "client_credentials", "client_id": _login(role)}
        return {"role": role.value, **grant, "client_secret": secret}
    person = {"grant_type": "password", "username": _login(role), "password": secret}
    return {"role": role.value, **person, **({"user_id": user_id} if user_id else {})}


def _read(path: Path) -> list[dict[str, Any]] | None:
    try:
        accounts = json.loads(path.read_text())["accounts"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return accounts if isinstance(accounts, list) else None


def _write(path: Path, token_url: str, accounts: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    # Created owner-only: the secrets must not be readable by other users of the machine.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"token_url": token_url, "accounts": accounts}, file, indent=2)
        file.write("\n")


async def _make_accounts(session: AsyncSession) -> list[dict[str, Any]]:
    rider = await cards.some_rider(session)
    made = []
    for role in Role:
        if role is Role.rider and rider is None:
            continue  # no rider with a card yet: nothing for a rider account to read
        secret = new_secret()
        user_id = rider if role is Role.rider else None
        await repository.replace_demo_account(
            session,
            login=_login(role),
            kind="client" if role in DEVICE_ROLES else "person",
            role=role.value,
            user_id=user_id,
            secret_hash=hash_secret(secret),
        )
        made.append(_entry(role, secret, user_id))
    return made


async def ensure_demo_accounts(
    database: Database, data_dir: Path, token_url: str
) -> DemoCredentials:
    """The demo accounts, made (or given new secrets) unless the file and accounts agree."""
    path = data_dir / CREDENTIALS_FILE
    async with database.write_sessions() as session, session.begin():
        existing = _read(path)
        logins = await repository.demo_logins(session)
        listed = {a.get("username") or a.get("client_id") for a in existing or []}
        if existing and listed and listed <= logins:
            return DemoCredentials(path, existing, created=False)
        accounts = await _make_accounts(session)
    _write(path, token_url, accounts)
    return DemoCredentials(path, accounts, created=True)


def describe(credentials: DemoCredentials) -> str:
    """What the launcher prints: the secrets when they are new, else where they are."""
    if not credentials.created:
        return f"Demo accounts: see {credentials.path}"
    lines = [f"Demo accounts (new secrets; also in {credentials.path}):"]
    for account in credentials.accounts:
        if account["grant_type"] == "password":
            who = f"username={account['username']} password={account['password']}"
        else:
            who = f"client_id={account['client_id']} client_secret={account['client_secret']}"
        lines.append(f"  {account['role']:<15} {account['grant_type']:<19} {who}")
    return "\n".join(lines)
