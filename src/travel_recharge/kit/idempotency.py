"""Idempotency records: a retried money-moving request returns the original answer.

The record is claimed with an INSERT in the same transaction as the money movement. A
concurrent retry blocks on the primary key until the first transaction ends: after a commit
it reads the stored answer, after a rollback its own INSERT goes through and it proceeds.

Two ways in: claim/remember on the ORM session, and for the recharge hot path (which runs
on the asyncpg connection, see db.DriverTransaction) SQL fragments that fold the claim and
the answer into the feature's own statements, plus stored_answer for the replay.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.kit.errors import Conflict
from travel_recharge.models import IdempotencyRecord

_KEY_CHARACTERS = "A-Za-z0-9_.:-"
_KEY_MAX_LENGTH = 200
_KEY = re.compile(f"[{_KEY_CHARACTERS}]{{1,{_KEY_MAX_LENGTH}}}")

IdempotencyKeyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=_KEY_MAX_LENGTH,
        pattern=f"^[{_KEY_CHARACTERS}]+$",
        description="Client-chosen key; a retry with the same key and body returns the "
        "original answer and moves no money",
    ),
]


def key_of(header: bytes | None) -> str | None:
    """The Idempotency-Key a raw header value carries, by the header's own rules; None when
    it carries none that IdempotencyKeyHeader would accept."""
    if header is None:
        return None
    key = header.decode("latin-1")
    return key if _KEY.fullmatch(key) else None


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


# Says a money-moving answer replays the first request with its key (nothing moved again).
REPLAY_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class Answer:
    """An idempotent request's answer: its status, body, and whether it replays an earlier
    request with the same key."""

    status_code: int
    body: dict[str, Any]
    replayed: bool

    def response(self) -> JSONResponse:
        headers = {REPLAY_HEADER: "true"} if self.replayed else {}
        return JSONResponse(self.body, status_code=self.status_code, headers=headers)


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
    assert record is not None
    return _replay(record.request_hash, record.status_code, record.response, request_hash)


def _replay(
    stored_hash: str, status_code: int, body: dict[str, Any] | None, request_hash: str
) -> StoredAnswer:
    # The first request wrote its answer before committing, so a committed record has one.
    assert body is not None
    if stored_hash != request_hash:
        raise Conflict(
            "Idempotency-Key was already used with a different request body; use a new key"
        )
    return StoredAnswer(status_code=status_code, body=body)


async def remember(
    session: AsyncSession, scope: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(status_code=status_code, response=body)
    )


def claim_sql(scope: str, key: str, request_hash: str) -> str:
    """The claim as a CTE body for a driver-level statement: RETURNING key yields a row only
    when this request is the first with the key. Arguments are that statement's bind
    parameters ("$1"...), so no value is ever spliced into the SQL."""
    return (
        "INSERT INTO idempotency_records (scope, key, request_hash, status_code)"  # noqa: S608
        f" VALUES ({scope}, {key}, {request_hash}, 0) ON CONFLICT DO NOTHING RETURNING key"
    )


def remember_sql(scope: str, key: str, status_code: str, body: str) -> str:
    """Storing the answer as a CTE body for a driver-level statement (body: JSON text)."""
    return (
        f"UPDATE idempotency_records SET status_code = {status_code}, response = {body}::jsonb"  # noqa: S608
        f" WHERE scope = {scope} AND key = {key}"
    )


_STORED = """
SELECT request_hash, status_code, response::text AS response FROM idempotency_records
WHERE scope = $1 AND key = $2
"""


async def stored_answer(
    connection: asyncpg.Connection, scope: str, key: str, request_hash: str
) -> StoredAnswer:
    """The first request's answer, after claim_sql found the key taken (a new statement, so
    it sees the first request's commit that the claim waited for)."""
    row = await connection.fetchrow(_STORED, scope, key)
    assert row is not None  # the claim conflicted with this committed record
    body = None if row["response"] is None else json.loads(row["response"])
    return _replay(row["request_hash"], row["status_code"], body, request_hash)


__all__ = [
    "IdempotencyKeyHeader",
    "StoredAnswer",
    "claim",
    "claim_sql",
    "fingerprint",
    "remember",
    "remember_sql",
    "stored_answer",
]
