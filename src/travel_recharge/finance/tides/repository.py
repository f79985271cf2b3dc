"""SQL of the TIDES export: COPY ... TO STDOUT straight into the files.

A year of a city's taps is over a billion rows: PostgreSQL formats them as CSV and asyncpg
writes each chunk to the file as it arrives, so memory stays flat whatever the range, and
no Python object is made per row (the export runs at COPY's speed, see the README).

Fares come from trips by event time (ix_trips_event_time): a trip carries what its ledger
entry says (amount = -fare_charged, the same balance after) plus where and how it was
priced. Every other ledger entry (recharge, credit repayment, balance transfer, adjustment)
comes from the ledger by created_at (the partial index of migration 0008). Both read the
cards and stations they point at: an export of the ledger is a read of the rows it refers
to, not a workflow of those features, and one statement is what lets it stream.

Parameters: $1 start, $2 end (timestamptz); of fare transactions $3 the time zone of the
service date, $4 include the simulator's cards, $5 currency, $6 the rider category of a card
without a profile; of devices $3 include the simulator's cards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from travel_recharge.finance.tides.schemas import TidesRequest

# Station kinds whose validators are gates on the platform; elsewhere a validator rides the bus.
_GATE_KINDS = "('portal', 'trunk', 'cable')"
_UTC_SECONDS = """'YYYY-MM-DD"T"HH24:MI:SS"Z"'"""

FARE_TRANSACTIONS_SQL = f"""
SELECT t.tap_id::text AS transaction_id,
    (t.event_time AT TIME ZONE $3::text)::date AS service_date,
    to_char(t.event_time AT TIME ZONE 'UTC', {_UTC_SECONDS}) AS event_timestamp,
    -t.fare_charged AS amount,
    $5::text AS currency_type,
    CASE WHEN t.is_transfer THEN 'Transfer entrance' ELSE 'Enter' END AS fare_action,
    t.validator_id AS device_id,
    s.code AS stop_id,
    1 AS num_riders,
    'Smart card or ticket' AS fare_media_id,
    coalesce(c.profile, $6::text) AS rider_category,
    t.fare_kind AS fare_product,
    -- As text: COPY writes a boolean as t/f, which Table Schema does not read as one.
    'false' AS fare_capped,
    t.card_id::text AS token_id,
    t.balance_after AS balance
FROM trips t
JOIN cards c ON c.id = t.card_id
LEFT JOIN stations s ON s.id = t.station_id
WHERE t.event_time >= $1::timestamptz AND t.event_time < $2::timestamptz
    AND ($4::boolean OR NOT c.simulated)
UNION ALL
SELECT 'ledger-' || e.id,
    (e.created_at AT TIME ZONE $3::text)::date,
    to_char(e.created_at AT TIME ZONE 'UTC', {_UTC_SECONDS}),
    e.amount,
    $5::text,
    CASE e.kind WHEN 'recharge' THEN 'Add' ELSE 'Adjust' END,
    'recharge-point-' || r.recharge_point_id,
    NULL,
    NULL,
    'Smart card or ticket',
    coalesce(c.profile, $6::text),
    e.kind,
    'false',
    e.card_id::text,
    e.balance_after
FROM ledger_entries e
JOIN cards c ON c.id = e.card_id
LEFT JOIN recharges r ON r.id = e.recharge_id
WHERE e.kind <> 'fare' AND e.created_at >= $1::timestamptz AND e.created_at < $2::timestamptz
    AND ($4::boolean OR NOT c.simulated)
"""  # noqa: S608

# Validators are known by the taps they read (there is no table of them); every recharge
# point is listed, as the rows that name them are only some of them.
DEVICES_SQL = f"""
SELECT t.validator_id AS device_id,
    CASE WHEN bool_and(s.kind IN {_GATE_KINDS}) THEN min(s.code) END AS stop_id,
    CASE WHEN bool_and(s.kind IN {_GATE_KINDS}) THEN 'Fare gate' ELSE 'Farebox' END
        AS device_type,
    CASE WHEN bool_and(s.kind IN {_GATE_KINDS}) THEN 'Entrance (not located on a vehicle)' END
        AS device_location
FROM trips t
JOIN cards c ON c.id = t.card_id
LEFT JOIN stations s ON s.id = t.station_id
WHERE t.event_time >= $1::timestamptz AND t.event_time < $2::timestamptz
    AND ($3::boolean OR NOT c.simulated)
GROUP BY t.validator_id
UNION ALL
SELECT 'recharge-point-' || p.id,
    NULL,
    CASE p.channel WHEN 'kiosk' THEN 'Fare vending machine' ELSE 'Other' END,
    NULL
FROM recharge_points p
WHERE $3::boolean OR NOT p.simulated
"""  # noqa: S608


@asynccontextmanager
async def snapshot(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """One read-only snapshot for both files, so every device a row names is listed.

    No statement timeout: a year's COPY is one long statement, and the service's timeout
    is meant for requests (it stays on the service's connections)."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        await connection.execute("SET LOCAL statement_timeout = 0")
        yield


async def copy_fare_transactions(
    connection: asyncpg.Connection, request: TidesRequest, output: Path
) -> int:
    status = await connection.copy_from_query(
        FARE_TRANSACTIONS_SQL,
        request.start,
        request.end,
        request.timezone,
        request.include_simulated,
        request.currency,
        request.default_rider_category,
        output=output,
        format="csv",
        header=True,
    )
    return _copied(status)


async def copy_devices(connection: asyncpg.Connection, request: TidesRequest, output: Path) -> int:
    status = await connection.copy_from_query(
        DEVICES_SQL,
        request.start,
        request.end,
        request.include_simulated,
        output=output,
        format="csv",
        header=True,
    )
    return _copied(status)


def _copied(status: str) -> int:
    """The row count of COPY's command tag ('COPY 42')."""
    return int(status.rsplit(" ", 1)[-1])
