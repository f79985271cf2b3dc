"""The drill's checker: the database held to the clients' log after a fault.

What a fare system promises its devices, checked row by row on the drill's own cards:
- every acknowledged tap is one trip with its tap_id, every acknowledged recharge the row
  the service answered with (none lost);
- no trip and no recharge exists that the clients did not ask for: a retry applied as a
  second operation would show up here (none applied twice);
- an operation the client gave up on (in doubt) is there once or not at all;
- every card's balance equals its ledger (the ledger verifies).
A checker that cannot fail checks nothing: the tests run it on a control drill with
asynchronous replication, where it must find the writes a failover lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from travel_recharge.cluster.drill import DrillCards, DrillLog


@dataclass
class Verdict:
    acknowledged_taps: int
    acknowledged_recharges: int
    in_doubt: int
    lost: list[str] = field(default_factory=list)  # acknowledged keys not in the database
    applied_twice: list[str] = field(default_factory=list)  # keys with more than one row
    unexpected_rows: list[str] = field(default_factory=list)  # rows no operation asked for
    ledger_mismatches: list[int] = field(default_factory=list)  # card ids

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.applied_twice or self.unexpected_rows or self.ledger_mismatches
        )

    def summary(self) -> str:
        return (
            f"taps acknowledged={self.acknowledged_taps} recharges acknowledged="
            f"{self.acknowledged_recharges} in doubt={self.in_doubt} lost={len(self.lost)} "
            f"applied twice={len(self.applied_twice)} unexpected={len(self.unexpected_rows)} "
            f"ledger mismatches={len(self.ledger_mismatches)}"
        )


async def check_drill(database_url: str, log: DrillLog, cards: DrillCards) -> Verdict:
    """Compare the database behind `database_url` (read on the primary) with the log."""
    connection = await asyncpg.connect(database_url)
    try:
        trips = await connection.fetch(
            "SELECT tap_id::text AS key, id FROM trips WHERE card_id = ANY($1::bigint[])",
            cards.tap_cards,
        )
        recharges = await connection.fetch(
            "SELECT id FROM recharges WHERE card_id = ANY($1::bigint[])", cards.recharge_cards
        )
        # Which recharge each Idempotency-Key's stored answer names.
        keys = [op.key for op in log.operations if op.kind == "recharge"]
        answers = await connection.fetch(
            "SELECT key, (response->>'recharge_id')::bigint AS id FROM idempotency_records"
            " WHERE key = ANY($1::text[])",
            keys,
        )
        mismatched = await connection.fetch(
            "SELECT c.id FROM cards c LEFT JOIN (SELECT card_id, sum(amount) AS total"
            " FROM ledger_entries WHERE card_id = ANY($1::bigint[]) GROUP BY card_id) l"
            " ON l.card_id = c.id WHERE c.id = ANY($1::bigint[])"
            " AND c.balance <> coalesce(l.total, 0)",
            cards.all_cards,
        )
    finally:
        await connection.close()
    verdict = Verdict(
        acknowledged_taps=len(log.acknowledged("tap")),
        acknowledged_recharges=len(log.acknowledged("recharge")),
        in_doubt=len(log.in_doubt("tap")) + len(log.in_doubt("recharge")),
        ledger_mismatches=sorted(row["id"] for row in mismatched),
    )
    _check_taps(verdict, log, [(row["key"], row["id"]) for row in trips])
    _check_recharges(
        verdict,
        log,
        [row["id"] for row in recharges],
        {row["key"]: row["id"] for row in answers},
    )
    return verdict


def _check_taps(verdict: Verdict, log: DrillLog, trips: list[tuple[str, int]]) -> None:
    rows_by_key: dict[str, list[int]] = {}
    for key, trip_id in trips:
        rows_by_key.setdefault(key, []).append(trip_id)
    sent = {op.key for op in log.operations if op.kind == "tap"}
    for op in log.acknowledged("tap"):
        if op.key not in rows_by_key:
            verdict.lost.append(f"tap {op.key} (trip {op.result_id})")
    for key, rows in rows_by_key.items():
        if len(rows) > 1:
            verdict.applied_twice.append(f"tap {key}: trips {rows}")
        if key not in sent:
            verdict.unexpected_rows.append(f"trip {rows} with tap_id {key}")


def _check_recharges(
    verdict: Verdict, log: DrillLog, recharge_ids: list[int], answered: dict[str, int]
) -> None:
    in_database = set(recharge_ids)
    for op in log.acknowledged("recharge"):
        if op.result_id not in in_database or answered.get(op.key) != op.result_id:
            verdict.lost.append(f"recharge {op.key} (recharge {op.result_id})")
    # A recharge row that no key's stored answer names was applied without its record:
    # a retry that charged again under a new row.
    named = set(answered.values())
    for recharge_id in sorted(in_database - named):
        verdict.unexpected_rows.append(f"recharge {recharge_id} named by no Idempotency-Key")
