"""The drill's checker: the database and the answers held to the clients' log after a fault.

What a fare system promises its devices, checked row by row on the drill's own cards:
- every acknowledged tap and recharge is in the database, and it is the row the device was
  told about (its trip_id / recharge_id): none lost, none answered with another's id;
- no operation applied more than once over all its attempts' keys: a retry applied again (a
  device that changed the key, a service that lost its idempotency) shows here;
- nothing on the drill's cards that no attempt of the log explains;
- an operation the device gave up on (in doubt) is there once or not at all;
- the ledger verifies (finance.service.verify_ledger: balances equal their ledger sums and
  their last entries' balance_after).
And of the answers themselves (check_answers): no 500; every other 5xx a database_unavailable
503 with the configured Retry-After (or, behind a proxy, the proxy's own page when no node
could take the request); no driver or SQL text in any body.

A checker that cannot fail checks nothing: the tests run it on a device that changes its key
on a retry and on a control drill with asynchronous replication, where it must find the
writes applied twice and the writes a failover lost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from travel_recharge.cluster.drill.cards import DrillCards
from travel_recharge.cluster.drill.devices import RETRY_STATUSES
from travel_recharge.cluster.drill.log import TOLD_FIELD, DrillLog, Operation
from travel_recharge.finance.service import verify_ledger
from travel_recharge.kit.db import async_database_url
from travel_recharge.kit.scratch import libpq_url

# A row the database holds: (what it is, its id).
Applied = tuple[str, int]

# Words of the driver, the ORM or SQL that must never reach a client.
LEAKS = ("asyncpg", "sqlalchemy", "Traceback", "SELECT ", "INSERT ", "psycopg", "SQLSTATE")

_TRIPS = "SELECT tap_id::text AS key, id FROM trips WHERE card_id = ANY($1::bigint[])"
# A recharge's key is the Idempotency-Key whose stored answer names it (both are written
# by the same statement: cards.repository._POST_RECHARGE); a recharge without one was
# applied without its record, and no retry could have found it.
_RECHARGES = """
SELECT i.key, r.id
FROM recharges r
LEFT JOIN idempotency_records i
  ON i.scope = 'recharge' AND (i.response ->> 'recharge_id')::bigint = r.id
WHERE r.card_id = ANY($1::bigint[])
"""
_ROW_KIND = {"trip": "tap", "recharge": "recharge"}


@dataclass
class Verdict:
    acknowledged_taps: int = 0
    acknowledged_recharges: int = 0
    in_doubt: int = 0  # not acknowledged: the device gave up, or was refused
    applied_unacknowledged: int = 0  # of those, applied once: allowed, and counted
    lost: list[str] = field(default_factory=list)  # acknowledged, not in the database
    applied_twice: list[str] = field(default_factory=list)  # over all of an operation's keys
    wrong_answer: list[str] = field(default_factory=list)  # told one id, holds another
    unexplained: list[str] = field(default_factory=list)  # rows no attempt asked for
    ledger_mismatches: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return self.acknowledged_taps + self.acknowledged_recharges

    @property
    def problems(self) -> list[str]:
        return [
            *(f"lost: {item}" for item in self.lost),
            *(f"applied twice: {item}" for item in self.applied_twice),
            *(f"wrong answer: {item}" for item in self.wrong_answer),
            *(f"unexplained: {item}" for item in self.unexplained),
            *(f"ledger: {item}" for item in self.ledger_mismatches),
        ]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"taps acknowledged={self.acknowledged_taps} recharges acknowledged="
            f"{self.acknowledged_recharges} in doubt={self.in_doubt} (applied "
            f"{self.applied_unacknowledged}) lost={len(self.lost)} applied twice="
            f"{len(self.applied_twice)} wrong answer={len(self.wrong_answer)} unexplained="
            f"{len(self.unexplained)} ledger mismatches={len(self.ledger_mismatches)}"
        )


async def check_drill(database_url: str, log: DrillLog, cards: DrillCards) -> Verdict:
    """Compare the database behind `database_url` (read on the primary) with the log, once
    the drill stopped."""
    operations = log.operations
    by_key = {key: op for op in operations for key in op.keys}
    applied: dict[int, list[Applied]] = defaultdict(list)
    verdict = Verdict()

    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        rows = [("trip", row) for row in await connection.fetch(_TRIPS, cards.all_cards)]
        rows += [("recharge", row) for row in await connection.fetch(_RECHARGES, cards.all_cards)]
    finally:
        await connection.close()
    for kind, row in rows:
        operation = by_key.get(row["key"]) if row["key"] is not None else None
        if operation is None or operation.kind != _ROW_KIND[kind]:
            verdict.unexplained.append(f"{kind} {row['id']} (key {row['key']})")
            continue
        applied[operation.op_id].append((kind, int(row["id"])))

    for operation in operations:
        _judge(operation, applied[operation.op_id], verdict)
    verdict.ledger_mismatches = await _ledger_mismatches(database_url)
    return verdict


def _judge(operation: Operation, rows: list[Applied], verdict: Verdict) -> None:
    name = f"{operation.kind} #{operation.op_id} card {operation.card_id} keys {operation.keys}"
    if len(rows) > 1:
        verdict.applied_twice.append(f"{name}: {rows}")
    if not operation.acknowledged:
        verdict.in_doubt += 1
        verdict.applied_unacknowledged += len(rows) == 1
        return
    if operation.kind == "tap":
        verdict.acknowledged_taps += 1
    else:
        verdict.acknowledged_recharges += 1
    if not rows:
        verdict.lost.append(f"{name} ({TOLD_FIELD[operation.kind]} {operation.told_id})")
        return
    if len(rows) == 1 and operation.told_id != rows[0][1]:
        verdict.wrong_answer.append(f"{name}: told {operation.told_id}, holds {rows[0][1]}")


async def _ledger_mismatches(database_url: str) -> list[str]:
    engine = create_async_engine(async_database_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            report = await verify_ledger(session)
    finally:
        await engine.dispose()
    return [mismatch.model_dump_json() for mismatch in report.mismatches]


def check_answers(log: DrillLog, retry_after_s: int, *, behind_proxy: bool = False) -> list[str]:
    """What the service told the clients: no 500, no 5xx but a database_unavailable 503
    with Retry-After `retry_after_s`, and nothing of the driver or SQL in any body.

    behind_proxy: the front is HAProxy, whose own 502/503/504 page (not JSON: no error
    code) answers while no node can take a request; the devices retry it like a 503."""
    problems = []
    for answer in log.answers:
        where = f"{answer.method} {answer.path} -> {answer.status}"
        proxy_page = behind_proxy and answer.status in RETRY_STATUSES and answer.error is None
        if answer.status is not None and answer.status >= 500 and not proxy_page:
            if answer.status != 503 or answer.error != "database_unavailable":
                problems.append(f"{where}: {answer.body[:200]}")
            elif answer.retry_after != str(retry_after_s):
                problems.append(f"{where} with Retry-After {answer.retry_after!r}")
        leaked = [word for word in LEAKS if word in answer.body]
        if leaked:
            problems.append(f"{where} shows {leaked}: {answer.body[:200]}")
    return problems
