"""Trip flows on the served side: sums of the job's per-day counts, and when to run the job.

Workers never chain trips (job.py does, in a process of its own): every
TR_FLOWS_CHECK_INTERVAL_S they look whether a finished day is due and, if so, start the job,
which counts for all of them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from travel_recharge.analytics.flows import repository
from travel_recharge.analytics.flows.bands import BANDS, Band
from travel_recharge.analytics.flows.schemas import (
    Coverage,
    DestinationShares,
    KindFlow,
    LineFlow,
    OdMatrix,
    Pair,
    Place,
    TransferFlows,
    TransferPlace,
)
from travel_recharge.analytics.jobs import run_module, run_when_due
from travel_recharge.analytics.service import share
from travel_recharge.analytics.views import DAILY_GROUP as GROUP
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import Database, ReadSession
from travel_recharge.kit.errors import Unprocessable
from travel_recharge.kit.views import Reads
from travel_recharge.models.flows import UNKNOWN_DESTINATION

Level = Literal["locality", "station"]
JOB_MODULE = "travel_recharge.analytics.flows.job"
JOB_TIMEOUT_S = 1800.0
FIRST_CHECK_S = 15.0
DEFAULT_DAYS = 7
MAX_DAYS = 92
TOP = 20  # transfer lines and places listed
METHOD = (
    "trip chaining (Trépanier, Tranchant and Chapleau, 2007): a trip without an exit tap ends "
    "at the stop of its route or network nearest to the card's next boarding (the day's last "
    "trip: the day's first boarding), within max_walk_m"
)


def date_range(
    first: date | None, last: date | None, now: datetime, timezone: str
) -> tuple[date, date]:
    """The local days asked for: by default the 7 days before today, or 7 from `first`."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    if first is not None and first > today:
        raise Unprocessable("from: is in the future")
    if last is None:
        week = timedelta(days=DEFAULT_DAYS - 1)
        last = today - timedelta(days=1) if first is None else min(today, first + week)
    if last > today:
        raise Unprocessable("to: is in the future")
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Unprocessable("from: is after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise Unprocessable(f"from: the range is longer than {MAX_DAYS} days")
    return first, last


async def od_view(
    reads: Reads, level: Level, first: date, last: date, band: Band | None, limit: int
) -> bytes:
    key = f"flows:od:{level}:{first}:{last}:{band}:{limit}"
    return await reads.view(
        GROUP,
        key,
        reads.settings.cache_ttl_flows_s,
        lambda s: od_matrix(s, level, first, last, band, limit, reads.settings.flows_max_walk_m),
        stale_ok=True,
    )


async def transfers_view(reads: Reads, first: date, last: date, band: Band | None) -> bytes:
    key = f"flows:transfers:{first}:{last}:{band}"
    ttl = reads.settings.cache_ttl_flows_s
    return await reads.view(
        GROUP, key, ttl, lambda s: transfer_flows(s, first, last, band), stale_ok=True
    )


async def coverage(session: ReadSession, first: date, last: date, band: Band | None) -> Coverage:
    counted = set(await repository.counted_days(session, first, last))
    every = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    return Coverage(
        first=first,
        last=last,
        band=band,
        band_hours=None if band is None else BANDS[band],
        days_counted=len(counted),
        days_not_counted=[day for day in every if day not in counted],
    )


async def od_matrix(
    session: ReadSession,
    level: Level,
    first: date,
    last: date,
    band: Band | None,
    limit: int,
    max_walk_m: float,
) -> OdMatrix:
    rows = await repository.locality_pairs(session, first, last, band)
    by_how = {"observed": 0, "inferred": 0, "unknown": 0}
    unknown_by_origin: dict[str, int] = {}
    for origin, _, how, trips in rows:
        by_how[how] += trips
        if how == "unknown":
            unknown_by_origin[origin] = unknown_by_origin.get(origin, 0) + trips
    if level == "locality":
        pairs = await _locality_pairs(session, rows, limit)
    else:
        pairs = await _station_pairs(session, first, last, band, limit)
    return OdMatrix(
        level=level,
        coverage=await coverage(session, first, last, band),
        method=METHOD,
        max_walk_m=max_walk_m,
        shares=_shares(by_how),
        unknown_by_origin=dict(sorted(unknown_by_origin.items())),
        pairs=pairs,
    )


def _shares(by_how: dict[str, int]) -> DestinationShares:
    trips = sum(by_how.values())
    return DestinationShares(
        trips=trips,
        **by_how,
        observed_share=share(by_how["observed"], trips),
        inferred_share=share(by_how["inferred"], trips),
        unknown_share=share(by_how["unknown"], trips),
    )


async def _locality_pairs(
    session: ReadSession, rows: list[tuple[str, str, str, int]], limit: int
) -> list[Pair]:
    known: dict[tuple[str, str], dict[str, int]] = {}
    for origin, destination, how, trips in rows:
        if destination != UNKNOWN_DESTINATION:
            counts = known.setdefault((origin, destination), {"observed": 0, "inferred": 0})
            counts[how] += trips
    places = await repository.locality_places(session)

    def place(code: str) -> Place:
        name, latitude, longitude = places.get(code, ("", 0.0, 0.0))
        return Place(code=code, name=name, latitude=latitude, longitude=longitude)

    def busiest_first(pair: tuple[tuple[str, str], dict[str, int]]) -> tuple[int, str, str]:
        (origin, destination), counts = pair
        return (-counts["observed"] - counts["inferred"], origin, destination)

    # Only the pairs answered become models (a thousand pairs made 7 ms of them).
    return [
        Pair(
            origin=place(origin),
            destination=place(destination),
            trips=counts["observed"] + counts["inferred"],
            **counts,
        )
        for (origin, destination), counts in sorted(known.items(), key=busiest_first)[:limit]
    ]


async def _station_pairs(
    session: ReadSession, first: date, last: date, band: Band | None, limit: int
) -> list[Pair]:
    rows = await repository.station_pairs(session, first, last, band, limit)
    places = await repository.station_places(session, {s for o, d, *_ in rows for s in (o, d)})

    def place(station: int) -> Place:
        code, name, _, _, latitude, longitude = places[station]
        return Place(code=code, name=name, latitude=latitude, longitude=longitude)

    return [
        Pair(
            origin=place(o),
            destination=place(d),
            trips=observed + inferred,
            observed=observed,
            inferred=inferred,
        )
        for o, d, observed, inferred in rows
    ]


async def transfer_flows(
    session: ReadSession, first: date, last: date, band: Band | None
) -> TransferFlows:
    kinds = await repository.transfer_kinds(session, first, last, band)
    lines = await repository.transfer_lines(session, first, last, band, TOP)
    places = await repository.transfer_places(session, first, last, band, TOP)
    named = await repository.station_places(session, {station for station, _ in places})
    by_kind = [KindFlow(from_kind=a, to_kind=b, transfers=n) for a, b, n in kinds]
    by_kind.sort(key=lambda k: (-k.transfers, k.from_kind, k.to_kind))
    return TransferFlows(
        coverage=await coverage(session, first, last, band),
        transfers=sum(k.transfers for k in by_kind),
        by_kind=by_kind,
        lines=[
            LineFlow(from_kind=a, from_line=b, to_kind=c, to_line=d, transfers=n)
            for a, b, c, d, n in lines
        ],
        places=[
            TransferPlace(
                station_id=station,
                code=named[station][0],
                name=named[station][1],
                kind=named[station][2],
                locality=named[station][3],
                transfers=n,
            )
            for station, n in places
        ],
    )


async def forget_views(settings: Settings) -> None:
    """Called by the job after it counted: every worker's next answer is recomputed. With
    Redis unreachable the job cannot: views cached before then last their TTL at most."""
    if not settings.redis_url:
        return
    cache = Cache.from_settings(settings)
    try:
        await cache.invalidate(GROUP)
    finally:
        await cache.close()


async def days_due(database: Database, settings: Settings, now: datetime) -> bool:
    """Whether a finished day's trips are not counted as they now stand."""
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    async with database.primary.connect() as connection:
        return bool(await repository.days_due(connection, today))


async def run_job() -> str:
    """Run the flows job in a process of its own; returns the line it printed."""
    return await run_module(JOB_MODULE, JOB_TIMEOUT_S)


async def infer_forever(database: Database, settings: Settings) -> None:
    await run_when_due(
        "flows.counted",
        JOB_MODULE,
        JOB_TIMEOUT_S,
        lambda: days_due(database, settings, datetime.now(UTC)),
        FIRST_CHECK_S,
        settings.flows_check_interval_s,
    )
