"""Every SQL statement about accounts."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import Account
from travel_recharge.security.devices import UNBOUND, Binding


async def active_account(session: ReadSession, login: str, kind: str) -> Account | None:
    return await session.scalar(
        select(Account).where(Account.login == login, Account.kind == kind, Account.active)
    )


def _new_account(
    login: str,
    kind: str,
    role: str,
    user_id: int | None,
    secret_hash: str,
    demo: bool,
    binding: Binding,
) -> Insert:
    return insert(Account).values(
        login=login,
        kind=kind,
        role=role,
        user_id=user_id,
        secret_hash=secret_hash,
        demo=demo,
        validator_id=binding.validator_id,
        recharge_point_id=binding.recharge_point_id,
    )


async def insert_account(
    session: AsyncSession,
    login: str,
    kind: str,
    role: str,
    user_id: int | None,
    secret_hash: str,
    binding: Binding = UNBOUND,
) -> Account | None:
    """The new account, or None when the login is taken."""
    statement = _new_account(login, kind, role, user_id, secret_hash, False, binding)
    return await session.scalar(
        statement.on_conflict_do_nothing(index_elements=[Account.login]).returning(Account)
    )


async def replace_demo_account(
    session: AsyncSession,
    login: str,
    kind: str,
    role: str,
    user_id: int | None,
    secret_hash: str,
    binding: Binding = UNBOUND,
) -> None:
    """Create the demo account, or give the existing one a new secret (and binding)."""
    statement = _new_account(login, kind, role, user_id, secret_hash, True, binding)
    changed = {
        "kind",
        "role",
        "user_id",
        "secret_hash",
        "demo",
        "validator_id",
        "recharge_point_id",
    }
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Account.login],
            set_={**{name: statement.excluded[name] for name in changed}, "active": True},
        )
    )


async def accounts_page(session: ReadSession, limit: int, offset: int) -> list[Account]:
    found = await session.scalars(select(Account).order_by(Account.id).limit(limit).offset(offset))
    return list(found)


async def deactivate(session: AsyncSession, login: str) -> Account | None:
    return await session.scalar(
        update(Account).where(Account.login == login).values(active=False).returning(Account)
    )


async def by_login(session: AsyncSession, login: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.login == login))


async def set_secret(session: AsyncSession, account_id: int, secret_hash: str) -> Account:
    account: Account | None = await session.scalar(
        update(Account)
        .where(Account.id == account_id)
        .values(secret_hash=secret_hash)
        .returning(Account)
    )
    assert account is not None
    return account


async def account_active(session: AsyncSession, account_id: int) -> bool:
    """Whether the account exists and is active."""
    found = await session.scalar(select(Account.active).where(Account.id == account_id))
    return bool(found)


async def demo_logins(session: AsyncSession) -> set[str]:
    found = await session.scalars(select(Account.login).where(Account.demo, Account.active))
    return set(found)
