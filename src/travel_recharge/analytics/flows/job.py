"""The flows job: count each finished day's trips by origin, destination and transfer.

Run by a worker (service.infer_forever) as `python -m travel_recharge.analytics.flows.job`, or
by hand as `travel-recharge flows`. It counts the finished local days whose real trips it has
not counted as they stand (oldest first, as the series grow day by day; a day per transaction,
so a stopped job keeps what it finished), one job at a time (an advisory lock). A day's taps
are streamed once, in card and time order, and chained card by card: a day of 725,000 taps
takes about 30 s with its series and rider figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.analytics.flows import repository, service
from travel_recharge.analytics.flows.chaining import Boarding, Network, chain_day
from travel_recharge.analytics.flows.tally import DayCounts, Places
from travel_recharge.analytics.riders import repository as rider_figures
from travel_recharge.analytics.riders import service as rider_service
from travel_recharge.kit.clock import local_days
from travel_recharge.kit.config import Settings, get_settings
from travel_recharge.kit.db import create_engine


async def load_network(connection: AsyncConnection, max_walk_m: float) -> tuple[Network, Places]:
    stations = await repository.stations(connection)
    routes = await repository.routes(connection)
    kind = {int(s.id): str(s.kind) for s in stations}
    locality = {int(s.id): str(s.locality_code) for s in stations}
    route_stops = {int(r[0]): [int(stop) for stop in r[3]] for r in routes}
    network = Network(
        points={int(s.id): (float(s.latitude), float(s.longitude)) for s in stations},
        route_stops=route_stops,
        trunk_stations=[s for s, k in kind.items() if k in ("trunk", "portal")],
        cable_routes=[int(r[0]) for r in routes if r[2] == "cable"],
        max_walk_m=max_walk_m,
    )
    places = Places(
        station_kind=kind,
        station_locality=locality,
        route_code={int(r[0]): str(r[1]) for r in routes},
        route_locality={route: locality[stops[0]] for route, stops in route_stops.items()},
    )
    return network, places


def boarding_of(tap: Any, zone: ZoneInfo) -> Boarding:
    return Boarding(
        hour=tap.event_time.astimezone(zone).hour,
        service_kind=tap.service_kind,
        station_id=tap.station_id,
        route_id=tap.route_id,
        exit_station_id=tap.end_station_id,
        is_transfer=tap.is_transfer,
    )


async def card_days(taps: AsyncIterator[Any]) -> AsyncIterator[list[Any]]:
    """The day's taps (ordered by card and time) as one list per card."""
    card: int | None = None
    day: list[Any] = []
    async for tap in taps:
        if tap.card_id != card and day:
            yield day
            day = []
        card = tap.card_id
        day.append(tap)
    if day:
        yield day


def rider_row(taps: list[Any]) -> tuple[int, int, int, int]:
    """A card's day for rider behaviour: (card, trips, transfers, credit trips)."""
    transfers = sum(1 for tap in taps if tap.is_transfer)
    return taps[0].card_id, len(taps), transfers, sum(1 for tap in taps if tap.credit_used)


async def infer(settings: Settings, now: datetime) -> str:
    """Count every finished day that is due; returns what happened (for the log)."""
    if not settings.database_url:
        raise ValueError("database_url: TR_DATABASE_URL is not set")
    zone = ZoneInfo(settings.timezone)
    engine = create_engine(settings.database_url, settings, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            if not await repository.try_job_lock(connection):
                return "busy"
            today = now.astimezone(zone).date()
            due = await repository.days_due(connection, today)
            first = await repository.first_series_day(connection)
            if first is not None and due and due[0][0] < first:
                # A day before the series began (history loaded late): count all afresh.
                await repository.forget_everything(connection)
                due = await repository.days_due(connection, today)
            await connection.commit()
            if not due:
                return "up to date"
            network, places = await load_network(connection, settings.flows_max_walk_m)
            trips = 0
            for day, _ in due:  # oldest first: the series grow day by day
                counts, riders = await count_stored_day(connection, network, places, day, zone)
                await repository.store_day(connection, day, counts, datetime.now(UTC))
                await rider_figures.store_days(connection, day, riders)
                await connection.commit()
                trips += counts.trips
            await count_rider_figures(connection, due[0][0], zone)
            await repository.tidy(connection, rider_figures.TABLES)
            await service.forget_views(settings)
            return f"counted {len(due)} days, {trips} trips"
    finally:
        await engine.dispose()


async def count_stored_day(
    connection: AsyncConnection, network: Network, places: Places, day: date, zone: ZoneInfo
) -> tuple[DayCounts, list[tuple[int, int, int, int]]]:
    """The day's flows, and its rider rows (card, trips, transfers, credit trips)."""
    counts, riders = DayCounts(), []
    async for taps in card_days(repository.day_taps(connection, *local_days(day, day, zone))):
        counts.add_card_day(places, chain_day(network, [boarding_of(tap, zone) for tap in taps]))
        riders.append(rider_row(taps))
    return counts, riders


async def count_rider_figures(connection: AsyncConnection, since: date, zone: ZoneInfo) -> None:
    """The figures of every counted day from `since` (their windows hold the days counted
    now), each in its own transaction; rider days older than any window needs are dropped."""
    days = await repository.counted_since(connection, since)
    for day in days:
        figures = await rider_service.count_day_figures(connection, day, zone)
        await rider_figures.store_snapshot(connection, day, figures.model_dump_json())
        await connection.commit()
    if days:
        kept_from = days[-1] - timedelta(days=rider_service.KEPT_DAYS - 1)
        await rider_figures.forget_days_before(connection, kept_from)
        await connection.commit()


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description="Count the finished days' trip flows.").parse_args(argv)
    outcome = asyncio.run(infer(get_settings(), datetime.now(UTC)))
    print(f"flows: {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
