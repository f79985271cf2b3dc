"""Accounts: checking credentials and creating accounts with generated secrets."""

from __future__ import annotations

import logging
from datetime import datetime

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.accounts import repository
from travel_recharge.accounts.errors import AccountNotFound, LoginTaken, NotADevice
from travel_recharge.accounts.revocations import service as revocations
from travel_recharge.accounts.schemas import (
    AccountCreate,
    AccountCreated,
    AccountKind,
    AccountOut,
    AccountsPage,
)
from travel_recharge.kit.audit import Actor, audit
from travel_recharge.kit.db import ReadSession, UnitOfWork
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.pagination import Page
from travel_recharge.models import Account
from travel_recharge.network import service as network
from travel_recharge.security.devices import Binding
from travel_recharge.security.hashing import hash_secret, new_secret, verify_secret
from travel_recharge.security.roles import Role
from travel_recharge.security.tokens import Principal, TokenSigner
from travel_recharge.users import service as users

logger = logging.getLogger("travel_recharge.security")


def principal_of(account: Account) -> Principal:
    return Principal(
        account.id,
        account.login,
        Role(account.role),
        account.user_id,
        account.validator_id,
        account.recharge_point_id,
    )


async def authenticate(
    session: ReadSession, login: str, secret: str, kind: AccountKind
) -> Principal | None:
    """The principal of an active account of this kind whose secret matches, else None."""
    account = await repository.active_account(session, login, kind)
    ok = await verify_secret(account.secret_hash if account else None, secret)
    if account is None or not ok:
        log_event(logger, "auth.refused", kind=kind)
        return None
    return principal_of(account)


async def create(session: AsyncSession, request: AccountCreate, *, actor: Actor) -> AccountCreated:
    """A new account with a generated secret, returned once and stored only as a hash."""
    if request.user_id is not None:
        await users.require_user(session, request.user_id)
    if request.recharge_point_id is not None:
        await network.require_recharge_point(session, request.recharge_point_id)
    secret = new_secret()
    kind = request.account_kind
    account = await repository.insert_account(
        session,
        login=request.login,
        kind=kind,
        role=request.role.value,
        user_id=request.user_id,
        secret_hash=await anyio.to_thread.run_sync(hash_secret, secret),
        binding=Binding(request.validator_id, request.recharge_point_id),
    )
    if account is None:
        raise LoginTaken(request.login)
    audit(
        "account.created",
        actor,
        f"account:{account.id}",
        login=account.login,
        role=account.role,
        kind=kind,
        user_id=account.user_id,
    )
    return AccountCreated(**to_out(account).model_dump(), secret=secret)


async def add_device(
    session: AsyncSession, login: str, role: Role, secret_hash: str, binding: Binding
) -> Principal | None:
    """A device account, bound to its device, with a secret already hashed (None: the login
    is taken)."""
    account = await repository.insert_account(
        session,
        login,
        kind="client",
        role=role.value,
        user_id=None,
        secret_hash=secret_hash,
        binding=binding,
    )
    return None if account is None else principal_of(account)


def to_out(account: Account) -> AccountOut:
    return AccountOut(
        account_id=account.id,
        login=account.login,
        role=Role(account.role),
        kind="client" if account.kind == "client" else "person",
        user_id=account.user_id,
        validator_id=account.validator_id,
        recharge_point_id=account.recharge_point_id,
        active=account.active,
        demo=account.demo,
        created_at=account.created_at,
    )


async def page_of_accounts(session: ReadSession, page: Page) -> AccountsPage:
    found = await repository.accounts_page(session, page.limit, page.offset)
    return AccountsPage(accounts=[to_out(a) for a in found], page=page.info(len(found)))


async def is_active(session: AsyncSession, principal: Principal) -> bool:
    """Whether the account behind a token is still active (tokens outlive a deactivation:
    work that goes on for longer than one request asks again)."""
    return await repository.account_active(session, principal.account_id)


async def deactivate(
    uow: UnitOfWork, signer: TokenSigner, login: str, now: datetime, *, actor: Actor
) -> AccountOut:
    """The account can no longer get tokens, and the ones it holds are revoked."""
    account = await repository.deactivate(uow.session, login)
    if account is None:
        raise AccountNotFound(login)
    await revocations.revoke_account_tokens(uow.session, uow, signer, account.id, now, actor=actor)
    audit("account.deactivated", actor, f"account:{account.id}", login=account.login)
    return to_out(account)


async def rotate_secret(
    uow: UnitOfWork, signer: TokenSigner, login: str, now: datetime, *, actor: Actor
) -> AccountCreated:
    """A device's new secret, shown once; the old one gets no token, and the tokens the
    device holds are revoked."""
    account = await repository.by_login(uow.session, login)
    if account is None:
        raise AccountNotFound(login)
    if account.kind != "client":
        raise NotADevice(login)
    secret = new_secret()
    hashed = await anyio.to_thread.run_sync(hash_secret, secret)
    account = await repository.set_secret(uow.session, account.id, hashed)
    await revocations.revoke_account_tokens(uow.session, uow, signer, account.id, now, actor=actor)
    audit("account.secret_rotated", actor, f"account:{account.id}", login=account.login)
    return AccountCreated(**to_out(account).model_dump(), secret=secret)
