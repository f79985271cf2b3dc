"""After a fault: what the clients were told against what the database holds.

- Every acknowledged tap and recharge is in the database, exactly once, and it is the one
  the client was told about (its trip_id / recharge_id).
- No operation applied more than once over all its attempts' keys: a retry that applied
  again (a device that changed the key, a service that lost its idempotency) shows here.
- Nothing on the run's cards that no attempt of the log explains.
- The ledger verifies (finance.service.verify_ledger): balances equal their ledger sums.

And of the answers themselves (check_answers): no 500, every 503 a database_unavailable
with Retry-After, no driver or SQL text in any body.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from tests.faults.load import ClientLog, Operation
from travel_recharge.finance.service import verify_ledger
from travel_recharge.kit.db import async_database_url
from travel_recharge.kit.scratch import libpq_url

# A row the database holds: (what it is, its id).
Applied = tuple[str, int]

# Words of the driver, the ORM or SQL that must never reach a client.
_LEAKS = ("asyncpg", "sqlalchemy", "Traceback", "SELECT ", "INSERT ", "psycopg", "SQLSTATE")

_TRIPS = "SELECT tap_id::text AS key, id FROM trips WHERE card_id = ANY($1::bigint[])"
# A recharge's key is the Idempotency-Key whose stored answer names it (both are written
# by the same statement: cards.repository._POST_RECHARGE).
_RECHARGES = """
SELECT i.key, r.id
FROM recharges r
LEFT JOIN idempotency_records i
  ON i.scope = 'recharge' AND (i.response ->> 'recharge_id')::bigint = r.id
WHERE r.card_id = ANY($1::bigint[])
"""


@dataclass
class Verdict:
    operations: int = 0
    acknowledged: int = 0
    # Not acknowledged (the device gave up) yet applied once: allowed, and counted.
    applied_unacknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    applied_twice: list[str] = field(default_factory=list)
    wrong_answer: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    ledger_mismatches: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [
            *(f"lost: {item}" for item in self.lost),
            *(f"applied twice: {item}" for item in self.applied_twice),
            *(f"wrong answer: {item}" for item in self.wrong_answer),
            *(f"unexplained: {item}" for item in self.unexplained),
            *(f"ledger: {item}" for item in self.ledger_mismatches),
        ]


async def check(database_url: str, log: ClientLog) -> Verdict:
    """Compare the log with the database at `database_url` (after the load stopped)."""
    operations = log.operations
    cards = sorted({operation.card_id for operation in operations})
    by_key = {key: op for op in operations for key in op.keys}
    applied: dict[int, list[Applied]] = defaultdict(list)
    verdict = Verdict(operations=len(operations))

    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        rows = [("trip", row) for row in await connection.fetch(_TRIPS, cards)]
        rows += [("recharge", row) for row in await connection.fetch(_RECHARGES, cards)]
    finally:
        await connection.close()
    for kind, row in rows:
        operation = by_key.get(row["key"]) if row["key"] is not None else None
        if operation is None or operation.kind != _kind_of(kind):
            verdict.unexplained.append(f"{kind} {row['id']} (key {row['key']})")
            continue
        applied[operation.op_id].append((kind, int(row["id"])))

    for operation in operations:
        _judge(operation, applied[operation.op_id], verdict)
    verdict.ledger_mismatches = await _ledger_mismatches(database_url)
    return verdict


def _kind_of(row_kind: str) -> str:
    return "tap" if row_kind == "trip" else "recharge"


def _judge(operation: Operation, rows: list[Applied], verdict: Verdict) -> None:
    name = f"{operation.kind} #{operation.op_id} card {operation.card_id} keys {operation.keys}"
    if len(rows) > 1:
        verdict.applied_twice.append(f"{name}: {rows}")
    if operation.acknowledged is None:
        if len(rows) == 1:
            verdict.applied_unacknowledged += 1
        return
    verdict.acknowledged += 1
    if not rows:
        verdict.lost.append(name)
        return
    told = operation.acknowledged.get("trip_id" if operation.kind == "tap" else "recharge_id")
    if len(rows) == 1 and told != rows[0][1]:
        verdict.wrong_answer.append(f"{name}: told {told}, holds {rows[0][1]}")


async def _ledger_mismatches(database_url: str) -> list[str]:
    engine = create_async_engine(async_database_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            report = await verify_ledger(session)
    finally:
        await engine.dispose()
    return [mismatch.model_dump_json() for mismatch in report.mismatches]


def check_answers(log: ClientLog, retry_after_s: int) -> list[str]:
    """What the service told the clients: no 500 (nor any 5xx but a database 503 with
    Retry-After), and nothing of the driver or SQL in any body."""
    problems = []
    for answer in log.answers:
        where = f"{answer.method} {answer.path} -> {answer.status}"
        if answer.status is not None and answer.status >= 500:
            if answer.status != 503 or answer.error != "database_unavailable":
                problems.append(f"{where}: {answer.body[:200]}")
            elif answer.retry_after != str(retry_after_s):
                problems.append(f"{where} with Retry-After {answer.retry_after!r}")
        leaked = [word for word in _LEAKS if word in answer.body]
        if leaked:
            problems.append(f"{where} shows {leaked}: {answer.body[:200]}")
    return problems
