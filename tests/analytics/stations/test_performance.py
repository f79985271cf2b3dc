"""Station performance on boardings laid down by hand, far before the generated riders' weeks:
a normal hour, an injected spike and a drop, each judged against eight Mondays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.analytics.conftest import Generated, generated_database
from tests.conftest import (
    ServerUrls,
    make_settings,
    start_app,
    watched_answer,
)
from travel_recharge.analytics.stations import service

BOGOTA = ZoneInfo("America/Bogota")
DAY = date(2025, 6, 2)  # a Monday, a year before the generated riders' weeks
HISTORY = [40, 44, 38, 41, 43, 39, 42, 40]  # 8:00-9:00 boardings of the 8 Mondays before
PERFORMANCE = "/api/v1/analytics/station-performance"


async def lay_boardings(connection: asyncpg.Connection, station: int, at: datetime, n: int) -> None:
    """`n` taps at `station` from `at`, a second apart, copied from a generated trunk tap."""
    await connection.execute(
        """
        INSERT INTO trips (tap_id, card_id, validator_id, station_id, route_id, service_kind,
            event_time, received_at, fare_policy_id, fare_charged, fare_kind, is_transfer,
            credit_used, benefit_trip_used, transfers_in_window, balance_after)
        SELECT gen_random_uuid(), t.card_id, 'TEST-PERF', $1, NULL, 'trunk',
            $2::timestamptz + n * interval '1 second', $2::timestamptz, t.fare_policy_id,
            0, t.fare_kind, false, false, false, 0, t.balance_after
        FROM (SELECT * FROM trips WHERE service_kind = 'trunk' ORDER BY id LIMIT 1) t,
            generate_series(0, $3 - 1) n
        """,
        station,
        at,
        n,
    )


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BOGOTA)


@pytest.fixture(scope="module")
def own(test_servers: ServerUrls) -> Iterator[Generated]:
    """A database of its own (a week of a few riders: the network, and taps to copy), as the
    hand-laid boardings would be history to another test's."""
    with generated_database(test_servers, 20, 7) as found:
        yield found


@pytest.fixture(scope="module")
async def laid(own: Generated) -> list[int]:
    """Four trunk stations; on DAY the first is as usual, the second spikes, the third drops
    and the fourth is silent, as it is all that week (a station closed for works)."""
    connection = await asyncpg.connect(own.database_url)
    try:
        stations = [
            int(r["id"])
            for r in await connection.fetch(
                "SELECT id FROM stations WHERE kind = 'trunk' ORDER BY code LIMIT 4"
            )
        ]
        for weeks_back, usual in enumerate(HISTORY, 1):
            monday = DAY - timedelta(weeks=weeks_back)
            for station in stations:
                await lay_boardings(connection, station, at_local(monday, 8, 20), usual)
        usual, spike, drop, _silent = stations
        await lay_boardings(connection, usual, at_local(DAY, 8, 20), 41)
        await lay_boardings(connection, spike, at_local(DAY, 8, 0), 30)  # 8:00-8:15
        # Folded apart: the second fold adds to the station's day already folded.
        await connection.execute("SELECT fold_rollup_deltas()")
        await lay_boardings(connection, spike, at_local(DAY, 8, 30), 50)  # 8:30-8:45
        await lay_boardings(connection, drop, at_local(DAY, 8, 20), 12)
        await connection.execute("SELECT fold_rollup_deltas()")
    finally:
        await connection.close()
    return stations


async def test_a_spike_and_a_drop_are_flagged_and_a_usual_hour_is_not(
    own: Generated, laid: list[int], test_servers: ServerUrls
) -> None:
    usual, spike, drop, silent = laid
    settings = make_settings(test_servers, database_url=own.database_url)
    async for app, client in start_app(settings):
        answer = await watched_answer(app, PERFORMANCE, {"day": DAY.isoformat()})
        future = await client.get(PERFORMANCE, params={"day": "2999-01-01"})
        few_weeks = await client.get(PERFORMANCE, params={"day": DAY.isoformat(), "weeks": 2})
    assert answer["day"] == "2025-06-02"
    assert answer["weekday"] == "Monday"
    assert answer["history_days"] == [(DAY - timedelta(weeks=k)).isoformat() for k in range(1, 9)]
    assert answer["hours_judged"] == 4  # each station's 8:00 hour; no other hour has boardings
    # Worked out by hand (tests/analytics/stations/test_scores.py): median 40.5, spread 2.2239.
    assert [
        (a["station_id"], a["hour"], a["direction"], a["robust_z"]) for a in answer["anomalies"]
    ] == [
        (silent, 8, "low", -18.21),
        (spike, 8, "high", 17.76),
        (drop, 8, "low", -12.82),
    ]
    # The silent station is in no list of the day or the week, and still named.
    connection = await asyncpg.connect(own.database_url)
    try:
        code, name = await connection.fetchrow(
            "SELECT code, name FROM stations WHERE id = $1", silent
        )
    finally:
        await connection.close()
    assert (answer["anomalies"][0]["code"], answer["anomalies"][0]["name"]) == (code, name)
    assert silent not in {s["station_id"] for s in answer["stations"]}
    by_station = {s["station_id"]: s for s in answer["stations"]}
    assert [s["station_id"] for s in answer["stations"]] == [spike, usual, drop]  # busiest first
    assert by_station[usual]["anomalies"] == 0
    assert by_station[spike] | {"code": "", "name": ""} == {
        "station_id": spike,
        "code": "",
        "name": "",
        "boardings": 80,
        "peak_hour": 8,
        "peak_hour_boardings": 80,
        "peak_hour_factor": round(80 / (4 * 50), 3),
        "busiest_15_min": "08:30",
        "busiest_15_min_boardings": 50,
        # Over the 7 days ending on DAY each station has only DAY; the week before, the
        # Monday a week earlier, where all three made 40 (shared first place).
        "rank": 1,
        "rank_week_before": 1,
        "rank_change": 0,
        "anomalies": 1,
    }
    assert (by_station[drop]["rank"], by_station[drop]["rank_change"]) == (3, -2)
    assert future.status_code == 422
    assert future.json()["detail"] == "day: is in the future"
    assert few_weeks.status_code == 422
    assert few_weeks.json()["fields"][0]["field"] == "weeks"


async def test_todays_hours_that_have_not_ended_are_not_judged(
    own: Generated, laid: list[int], test_servers: ServerUrls
) -> None:
    settings = make_settings(test_servers, database_url=own.database_url)
    async for app, _ in start_app(settings):
        async with app.state.database.read_sessions() as session:
            # As if DAY were today at 08:40: its 8:00 hour is still going.
            before_nine = await service.performance(session, DAY, 8, complete_hours=8)
            after_nine = await service.performance(session, DAY, 8, complete_hours=9)
    assert (before_nine.hours_judged, before_nine.anomalies) == (0, [])
    assert after_nine.hours_judged == 4
    now = datetime(2025, 6, 2, 13, 40, tzinfo=UTC)  # 08:40 in Bogotá
    assert service.day_asked(None, now, "America/Bogota") == (DAY, 8)
    assert service.day_asked(DAY - timedelta(days=1), now, "America/Bogota")[1] == 24
