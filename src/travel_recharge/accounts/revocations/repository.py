"""SQL of token revocations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import TokenRevocation


async def add(
    session: AsyncSession,
    *,
    account_id: int,
    token_id: str | None,
    issued_before: datetime | None,
    expires_at: datetime,
    revoked_at: datetime,
    revoked_by: int | None,
) -> TokenRevocation:
    row: TokenRevocation | None = await session.scalar(
        insert(TokenRevocation)
        .values(
            account_id=account_id,
            token_id=token_id,
            issued_before=issued_before,
            expires_at=expires_at,
            revoked_at=revoked_at,
            revoked_by=revoked_by,
        )
        .returning(TokenRevocation)
    )
    assert row is not None
    return row


async def in_force(
    session: ReadSession, now: datetime
) -> list[tuple[int, str | None, datetime | None]]:
    """(account, token id, issued before) of every revocation that may still refuse a token."""
    rows = await session.execute(
        select(
            TokenRevocation.account_id, TokenRevocation.token_id, TokenRevocation.issued_before
        ).where(TokenRevocation.expires_at > now)
    )
    return [(account_id, token_id, before) for account_id, token_id, before in rows]
