"""Idempotency records: a retried money-moving request returns the original answer.

The record is claimed with an INSERT in the same transaction as the money movement. A
concurrent retry blocks on the primary key until the first transaction ends: after a commit
it reads the stored answer, after a rollback its own INSERT goes through and it proceeds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.errors import Conflict
from travel_recharge.models import IdempotencyRecord

IdempotencyKeyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Client-chosen key; a retry with the same key and body returns the "
        "original answer and moves no money",
    ),
]


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def fingerprint(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession, scope: str, key: str, request_hash: str
) -> StoredAnswer | None:
    """None when this request is the first with `key`; else the first one's stored answer."""
    inserted = await session.scalar(
        pg_insert(IdempotencyRecord)
        .values(scope=scope, key=key, request_hash=request_hash, status_code=0, response=None)
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.key)
    )
    if inserted is not None:
        return None
    record = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    # The first request wrote its answer before committing, so a committed record has one.
    assert record is not None
    assert record.response is not None
    if record.request_hash != request_hash:
        raise Conflict(
            "Idempotency-Key was already used with a different request body; use a new key"
        )
    return StoredAnswer(status_code=record.status_code, body=record.response)


async def remember(
    session: AsyncSession, scope: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(status_code=status_code, response=body)
    )


__all__ = ["IdempotencyKeyHeader", "StoredAnswer", "claim", "fingerprint", "remember"]
