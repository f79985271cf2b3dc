"""The flows job on eight weeks of generated riders, and the endpoints summing its counts,
checked against figures recounted from the trips themselves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from tests.analytics.conftest import Generated, settings_of
from tests.conftest import (
    ServerUrls,
    start_app,
    watched_answer,
)
from travel_recharge.analytics.flows import service
from travel_recharge.analytics.flows.job import infer
from travel_recharge.kit.config import Settings

OD = "/api/v1/analytics/od-matrix"
TRANSFERS = "/api/v1/analytics/transfer-flows"

# The real riders' trips of local days [first, last], as the job counts them.
_RANGE = """
    WITH t AS (
        SELECT t.*, (t.event_time AT TIME ZONE 'America/Bogota') AS local
        FROM trips t JOIN cards c ON c.id = t.card_id WHERE NOT c.simulated
    )
    SELECT {what} FROM {source} WHERE local::date BETWEEN $1 AND $2 {more}
"""


async def recount(database_url: str, first: date, last: date, what: str, more: str = "") -> int:
    connection = await asyncpg.connect(database_url)
    try:
        query = _RANGE.format(what=what, source="t", more=more)
        found = await connection.fetchval(query, first, last)
    finally:
        await connection.close()
    return int(found)


async def series_sum(database_url: str, first: date, last: date, total: str) -> int:
    """A station series' total over the range (whole-day band), straight from its table."""
    connection = await asyncpg.connect(database_url)
    try:
        start = await connection.fetchval("SELECT first_day FROM flow_series_state")
        a, b = (first - start).days + 1, (last - start).days + 1
        found = await connection.fetchval(
            f"SELECT sum({total}[$1::int] - coalesce({total}[$2::int], 0))"  # noqa: S608
            " FROM od_station_series WHERE band = 'all'",
            b,
            a - 1,
        )
    finally:
        await connection.close()
    return int(found)


async def observed_station_pairs(
    database_url: str, first: date, last: date
) -> dict[tuple[str, str], int]:
    """(origin code, destination code) -> trips with an exit tap, from the trips."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            _RANGE.format(
                what="o.code AS origin, d.code AS destination, count(*) AS trips",
                source="t JOIN stations o ON o.id = t.station_id"
                " JOIN stations d ON d.id = t.end_station_id",
                more="GROUP BY 1, 2",
            ),
            first,
            last,
        )
    finally:
        await connection.close()
    return {(r["origin"], r["destination"]): r["trips"] for r in rows}


async def test_the_matrix_accounts_for_every_trip_of_the_range(
    counted: Settings, generated: Generated
) -> None:
    url, today = generated.database_url, generated.today
    first, last = today - timedelta(days=7), today - timedelta(days=1)
    async for app, client in start_app(counted):
        answer = await watched_answer(app, OD)  # the default range: the 7 days before today
        everything = (await client.get(OD, params={"limit": 500})).json()
        stations = (await client.get(OD, params={"level": "station", "limit": 500})).json()
        peak = (await client.get(OD, params={"band": "am_peak"})).json()
    assert answer["coverage"] == {
        "first": first.isoformat(),
        "last": last.isoformat(),
        "band": None,
        "band_hours": None,
        "days_counted": 7,
        "days_not_counted": [],
    }
    shares = answer["shares"]
    assert shares["trips"] == await recount(url, first, last, "count(*)")
    assert shares["observed"] == await recount(
        url, first, last, "count(*)", "AND end_station_id IS NOT NULL"
    )
    assert shares["observed"] + shares["inferred"] + shares["unknown"] == shares["trips"]
    assert shares["inferred"] > 0
    assert shares["unknown"] > 0
    assert sum(everything["unknown_by_origin"].values()) == shares["unknown"]
    # Every known destination is in exactly one locality pair.
    pairs = everything["pairs"]
    assert sum(p["trips"] for p in pairs) == shares["observed"] + shares["inferred"]
    assert all(p["trips"] == p["observed"] + p["inferred"] for p in pairs)
    assert [p["trips"] for p in pairs] == sorted((p["trips"] for p in pairs), reverse=True)
    assert all(p["origin"]["name"] and p["destination"]["name"] for p in pairs)
    # Exit taps are made at stations, after boarding at one: all are in station pairs, and
    # the series' sums over the range hold every one.
    assert stations["shares"] == shares
    observed = await observed_station_pairs(url, first, last)
    assert sum(observed.values()) == shares["observed"]
    assert await series_sum(url, first, last, "observed") == shares["observed"]
    assert await series_sum(url, first, last, "inferred") > 0
    listed = stations["pairs"]
    assert 0 < len(listed) <= 500
    for pair in listed:
        key = (pair["origin"]["code"], pair["destination"]["code"])
        assert pair["observed"] == observed.get(key, 0), key
        assert pair["trips"] == pair["observed"] + pair["inferred"]
    assert [p["trips"] for p in listed] == sorted((p["trips"] for p in listed), reverse=True)
    assert peak["shares"]["trips"] == await recount(
        url, first, last, "count(*)", "AND extract(hour FROM local) BETWEEN 5 AND 8"
    )
    assert peak["coverage"]["band_hours"] == [5, 9]


async def test_transfers_are_counted_by_kind_and_place(
    counted: Settings, generated: Generated
) -> None:
    url, today = generated.database_url, generated.today
    first, last = today - timedelta(days=28), today - timedelta(days=1)
    params = {"from": first.isoformat(), "to": last.isoformat()}
    async for _, client in start_app(counted):
        answer = (await client.get(TRANSFERS, params=params)).json()
        peak = (await client.get(TRANSFERS, params=params | {"band": "pm_peak"})).json()
    # A transfer tap linked to the card's trip before it on the same local day.
    linked_sql = (
        "AND is_transfer AND EXISTS (SELECT 1 FROM t b WHERE b.card_id = t.card_id"
        " AND b.local::date = t.local::date AND b.event_time < t.event_time)"
    )
    linked = await recount(url, first, last, "count(*)", linked_sql)
    assert answer["transfers"] == linked > 0
    in_peak = " AND extract(hour FROM local) BETWEEN 16 AND 19"
    assert peak["transfers"] == await recount(url, first, last, "count(*)", linked_sql + in_peak)
    # The band's pairs of lines are its own (a table apart from the whole day's).
    peak_lines = {(x["from_line"], x["to_line"]): x["transfers"] for x in peak["lines"]}
    day_lines = {(x["from_line"], x["to_line"]): x["transfers"] for x in answer["lines"]}
    assert peak_lines
    assert all(n <= day_lines.get(pair, n) for pair, n in peak_lines.items())
    assert sum(peak_lines.values()) < sum(day_lines.values())
    assert sum(k["transfers"] for k in answer["by_kind"]) == linked
    kinds = {(k["from_kind"], k["to_kind"]) for k in answer["by_kind"]}
    assert {("zonal", "trunk"), ("trunk", "zonal")} <= kinds
    assert len(answer["lines"]) <= service.TOP
    assert len(answer["places"]) <= service.TOP
    counts = [p["transfers"] for p in answer["places"]]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > 0
    assert answer["coverage"]["days_counted"] == 28


# Counts that differ from the trips of the day: 5 more on a station pair and 3 on a transfer
# place from the day on, and a pair that had 4 trips that day but has none.
_WRONG_SERIES = (
    "UPDATE od_station_series SET observed = flow_shift(observed, $1, 5)"
    " WHERE band = 'all' AND (origin_id, destination_id) = (SELECT origin_id, destination_id"
    " FROM od_station_series WHERE band = 'all' ORDER BY origin_id, destination_id LIMIT 1)",
    "UPDATE transfer_place_series SET transfers = flow_shift(transfers, $1, 3)"
    " WHERE band = 'all' AND station_id = (SELECT min(station_id) FROM transfer_place_series)",
    "INSERT INTO od_station_series SELECT 'all', id, id, flow_shift(array_fill(0,"
    " ARRAY[$2::int]), $1, 4), array_fill(0, ARRAY[$2::int]) FROM stations"
    " WHERE kind = 'trunk' ORDER BY id LIMIT 1",
)


async def test_a_recounted_day_moves_every_later_total(
    counted: Settings, generated: Generated
) -> None:
    url, today = generated.database_url, generated.today
    day = today - timedelta(days=3)
    week = {"from": (today - timedelta(days=7)).isoformat(), "to": day.isoformat()}
    first, last = today - timedelta(days=7), today - timedelta(days=1)
    right = await series_sum(url, first, last, "observed")
    async for _, client in start_app(counted):
        asked = [(OD, week | {"level": "station", "limit": 500}), (TRANSFERS, week)]
        before = [(await client.get(url_, params=p)).json() for url_, p in asked]
        connection = await asyncpg.connect(url)
        try:
            start = await connection.fetchval("SELECT first_day FROM flow_series_state")
            length = await connection.fetchval(
                "SELECT last_day - first_day + 1 FROM flow_series_state"
            )
            kept = await connection.fetchval("SELECT trips FROM od_days WHERE day = $1", day)
            k = (day - start).days + 1
            for statement in _WRONG_SERIES:
                await connection.execute(statement, *((k, length) if "$2" in statement else (k,)))
            # The wrong counts show in every range through the day's (the test can fail).
            assert await series_sum(url, first, last, "observed") == right + 5 + 4
            # As if a late tap had reached the rollups after the day was counted.
            await connection.execute("UPDATE od_days SET trips = trips - 1 WHERE day = $1", day)
            assert await infer(counted, datetime.now(UTC)) == f"counted 1 days, {kept} trips"
            assert (
                await connection.fetchval("SELECT trips FROM od_days WHERE day = $1", day) == kept
            )
        finally:
            await connection.close()
        after = [(await client.get(url_, params=p)).json() for url_, p in asked]
    assert await series_sum(url, first, last, "observed") == right
    assert after == before


async def test_today_is_not_counted_and_bad_ranges_are_refused(
    counted: Settings, generated: Generated
) -> None:
    today = generated.today
    yesterday = today - timedelta(days=1)
    async for _, client in start_app(counted):
        with_today = await client.get(OD, params={"from": yesterday.isoformat()})
        refused = [
            (field, await client.get(url, params=params))
            for field, url, params in [
                ("to", OD, {"to": "2999-01-01"}),
                ("from", OD, {"from": "2999-01-01"}),
                ("from", OD, {"from": today.isoformat(), "to": yesterday.isoformat()}),
                ("from", TRANSFERS, {"from": "2020-01-01", "to": "2020-06-01"}),
                ("band", OD, {"band": "rush"}),
                ("level", OD, {"level": "corridor"}),
                ("limit", OD, {"limit": 0}),
                ("from", TRANSFERS, {"from": "yesterday"}),
            ]
        ]
    coverage = with_today.json()["coverage"]
    assert coverage["last"] == today.isoformat()
    assert coverage["days_not_counted"] == [today.isoformat()]
    for field, response in refused:
        assert response.status_code == 422, (field, response.text)
        assert field in response.text, (field, response.text)


async def test_the_worker_starts_the_job_in_a_process_of_its_own(
    counted: Settings,
    generated: Generated,
    test_servers: ServerUrls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TR_DATABASE_URL", generated.database_url)
    monkeypatch.setenv("TR_REDIS_URL", test_servers.redis_url)
    # The job invalidates cached views when it counts: in the session's namespace, not the
    # shared Redis's default one.
    monkeypatch.setenv("TR_CACHE_NAMESPACE", counted.cache_namespace)
    assert await service.run_job() == "flows: up to date"


async def forget_day(database_url: str, day: date) -> int:
    """Drop a counted day's record (as if never counted); returns the trips it had."""
    connection = await asyncpg.connect(database_url)
    try:
        kept = await connection.fetchval("SELECT trips FROM od_days WHERE day = $1", day)
        await connection.execute("DELETE FROM od_days WHERE day = $1", day)
    finally:
        await connection.close()
    return int(kept)


def test_travel_recharge_flows_counts_by_hand(
    counted: Settings, generated: Generated, test_servers: ServerUrls
) -> None:
    kept = asyncio.run(forget_day(generated.database_url, generated.today - timedelta(days=9)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TR_")}
    env |= {
        "TR_DATABASE_URL": generated.database_url,
        "TR_REDIS_URL": test_servers.redis_url,
        "TR_CACHE_NAMESPACE": counted.cache_namespace,  # its invalidation stays in the session's
    }
    launcher = Path(sys.executable).parent / "travel-recharge"
    done = subprocess.run(
        [str(launcher), "flows"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"flows: counted 1 days, {kept} trips"


async def test_a_day_counted_shows_at_once_in_the_cached_answers(
    counted: Settings, generated: Generated, test_servers: ServerUrls
) -> None:
    day = generated.today - timedelta(days=2)
    # A cache namespace of its own: another test may have cached this very answer already.
    own = settings_of(test_servers, generated.database_url)
    async for _, client in start_app(own):
        await forget_day(generated.database_url, day)
        before = (await client.get(OD)).json()["coverage"]
        assert before["days_not_counted"] == [day.isoformat()]
        assert (await client.get(OD)).json()["coverage"] == before  # cached
        assert (await infer(own, datetime.now(UTC))).startswith("counted 1 days, ")
        after = (await client.get(OD)).json()["coverage"]
    assert after["days_not_counted"] == []
    assert after["days_counted"] == 7


async def test_the_job_vacuums_what_it_rewrote(counted: Settings, generated: Generated) -> None:
    """A recounted day rewrites rows of every series; the job vacuums them after, so answers
    never read their dead versions, whether autovacuum is on, behind or off. (Their dead-row
    counts are not asserted: a backend sends its counts up to a second late.)"""
    await forget_day(generated.database_url, generated.today - timedelta(days=3))
    started = datetime.now(UTC)
    assert (await infer(counted, datetime.now(UTC))).startswith("counted 1 days, ")
    tables = [
        "od_days",
        "transfer_kinds",
        "flow_series_state",
        "od_locality_series",
        "od_station_series",
        "transfer_line_series",
        "transfer_line_day_series",
        "transfer_place_series",
        "rider_days",
        "rider_snapshots",
    ]
    connection = await asyncpg.connect(generated.database_url)
    try:
        rows = await connection.fetch(
            "SELECT relname, last_vacuum, last_analyze FROM pg_stat_user_tables"
            " WHERE relname = ANY($1)",
            tables,
        )
    finally:
        await connection.close()
    assert sorted(row["relname"] for row in rows) == sorted(tables)
    for row in rows:
        assert row["last_vacuum"] >= started, row["relname"]
        assert row["last_analyze"] >= started, row["relname"]
