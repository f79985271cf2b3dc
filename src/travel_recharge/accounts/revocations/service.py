"""Revoking tokens and loading the revocations in force into a worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from travel_recharge.accounts import repository as accounts
from travel_recharge.accounts.errors import AccountNotFound, NotOurToken
from travel_recharge.accounts.revocations import repository
from travel_recharge.accounts.revocations.schemas import RevocationOut
from travel_recharge.kit.audit import Actor, audit
from travel_recharge.kit.db import CommitHooks, Database, ReadSession
from travel_recharge.kit.logs import log_event
from travel_recharge.models import TokenRevocation
from travel_recharge.security.revocations import Revocation
from travel_recharge.security.tokens import CLOCK_LEEWAY_S, InvalidToken, TokenSigner

logger = logging.getLogger("travel_recharge.security")

# No configuration issues tokens living longer (Settings.auth_token_ttl_s allows a day at
# most): a revocation of all of an account's tokens matters this long.
LONGEST_TOKEN = timedelta(days=1, seconds=CLOCK_LEEWAY_S)


async def revoke_token(
    session: AsyncSession,
    hooks: CommitHooks,
    signer: TokenSigner,
    token: str,
    now: datetime,
    *,
    actor: Actor,
) -> RevocationOut:
    """Refuse this one token from now on (its account's other tokens keep working)."""
    try:
        identity = signer.identify(token)
    except InvalidToken as exc:
        raise NotOurToken() from exc
    if identity.token_id is None:
        raise NotOurToken()  # every token we issue has an id
    expires_at = datetime.fromtimestamp(identity.expires_at + CLOCK_LEEWAY_S, UTC)
    row = await repository.add(
        session,
        account_id=identity.account_id,
        token_id=identity.token_id,
        issued_before=None,
        expires_at=max(expires_at, now),
        revoked_at=now,
        revoked_by=actor.account_id,
    )
    return _added(hooks, signer, row, actor)


async def account_id_of(session: AsyncSession, login: str) -> int:
    account = await accounts.by_login(session, login)
    if account is None:
        raise AccountNotFound(login)
    return account.id


async def revoke_account_tokens(
    session: AsyncSession,
    hooks: CommitHooks,
    signer: TokenSigner,
    account_id: int,
    now: datetime,
    *,
    actor: Actor,
) -> RevocationOut:
    """Refuse every token the account was issued before `now`; later ones work."""
    row = await repository.add(
        session,
        account_id=account_id,
        token_id=None,
        issued_before=now,
        expires_at=now + LONGEST_TOKEN,
        revoked_at=now,
        revoked_by=actor.account_id,
    )
    return _added(hooks, signer, row, actor)


def _revocation(account_id: int, token_id: str | None, before: datetime | None) -> Revocation:
    return account_id, token_id, None if before is None else before.timestamp()


def _added(
    hooks: CommitHooks, signer: TokenSigner, row: TokenRevocation, actor: Actor
) -> RevocationOut:
    revocation = _revocation(row.account_id, row.token_id, row.issued_before)

    async def at_once() -> None:  # this worker; the others at their next load
        signer.revoked.add(revocation)

    hooks.after_commit(at_once)
    what = "one" if row.token_id is not None else "all"
    audit("access.revoked", actor, f"account:{row.account_id}", which=what)
    return RevocationOut(
        account_id=row.account_id,
        token_id=row.token_id,
        issued_before=row.issued_before,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


async def load(session: ReadSession, signer: TokenSigner, now: datetime) -> int:
    """Put the revocations in force into this worker's signer; how many there are."""
    rows = await repository.in_force(session, now)
    signer.revoked.replace(_revocation(*row) for row in rows)
    return len(rows)


def load_sessions(database: Database) -> async_sessionmaker[AsyncSession]:
    """Sessions on the primary's health engine, a connection of its own: the load runs even
    when requests hold every connection of the primary's pool (and never counts in it), and
    a replica could be seconds behind a revocation."""
    return async_sessionmaker(database.health or database.primary)


async def load_now(sessions: async_sessionmaker[AsyncSession], signer: TokenSigner) -> bool:
    """One load; False, keeping the revocations last loaded, when the database fails."""
    try:
        async with sessions() as session:
            await load(session, signer, datetime.now(UTC))
        return True
    except Exception as exc:
        log_event(logger, "revocations.load_failed", logging.WARNING, error=type(exc).__name__)
        return False


async def load_forever(
    sessions: async_sessionmaker[AsyncSession], signer: TokenSigner, interval_s: float
) -> None:
    """A worker's loop, after the load its start made. A failed load (the database down)
    keeps the revocations loaded last: tokens revoked are still refused; it tries again next
    round."""
    while True:
        await asyncio.sleep(interval_s)
        await load_now(sessions, signer)
