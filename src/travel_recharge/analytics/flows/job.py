"""The flows job: count each finished day's trips by origin, destination and transfer.

Run by a worker (service.infer_forever) as `python -m travel_recharge.analytics.flows.job`, or
by hand as `travel-recharge flows`. It counts the finished local days whose real trips it has
not counted as they stand (newest first, a day per transaction, so a stopped job keeps what it
finished), one job at a time (an advisory lock). A day of a million taps takes seconds: they
are read once, in card and time order, and chained card by card.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.analytics.flows import repository
from travel_recharge.analytics.flows.chaining import Boarding, Network, chain_day
from travel_recharge.analytics.flows.tally import DayCounts, Places, count_day
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


def card_days(taps: Sequence[Any], zone: ZoneInfo) -> Iterator[list[Boarding]]:
    """The day's taps (ordered by card and time) as one list of boardings per card."""
    for _, card_taps in groupby(taps, key=lambda tap: tap.card_id):
        yield [
            Boarding(
                hour=tap.event_time.astimezone(zone).hour,
                service_kind=tap.service_kind,
                station_id=tap.station_id,
                route_id=tap.route_id,
                exit_station_id=tap.end_station_id,
                is_transfer=tap.is_transfer,
            )
            for tap in card_taps
        ]


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), zone)
    return start, datetime.combine(day + timedelta(days=1), time(), zone)


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
            due = await repository.days_due(connection, now.astimezone(zone).date())
            await connection.commit()
            if not due:
                return "up to date"
            network, places = await load_network(connection, settings.flows_max_walk_m)
            trips = 0
            for day, _ in due:
                counts = await count_stored_day(connection, network, places, day, zone)
                await repository.store_day(connection, day, counts, datetime.now(UTC))
                await connection.commit()
                trips += counts.trips
            return f"counted {len(due)} days, {trips} trips"
    finally:
        await engine.dispose()


async def count_stored_day(
    connection: AsyncConnection, network: Network, places: Places, day: date, zone: ZoneInfo
) -> DayCounts:
    taps = await repository.day_taps(connection, *local_day_bounds(day, zone))
    return count_day(places, (chain_day(network, boardings) for boardings in card_days(taps, zone)))


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description="Count the finished days' trip flows.").parse_args(argv)
    outcome = asyncio.run(infer(get_settings(), datetime.now(UTC)))
    print(f"flows: {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
