"""The live dashboard: today's figures from the rollups, the last hour's taps from trips.

The rollups lag the taps by at most one fold (analytics.folder, every second); the minute
counts and the active cards read the trips themselves, since no rollup keeps minutes or cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from travel_recharge.analytics import repository
from travel_recharge.analytics.live import repository as live_repository
from travel_recharge.analytics.live.schemas import (
    LiveDashboard,
    LocalityToday,
    MinuteTaps,
    OutsideStationsToday,
    TodayFigures,
)
from travel_recharge.analytics.schemas import HourTrips
from travel_recharge.analytics.views import cache_field
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.views import Reads

GROUP = "analytics"
# The count is cached apart from the dashboard (read while the dashboard is computed), one
# key per local date, in a namespace of its own so /cache shows it apart.
ACTIVE_CARDS_GROUP = "analytics:active_cards"
WHOLE_MINUTES = 60
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class LiveClock:
    """The instants the figures are cut at, all in UTC."""

    now: datetime
    local_date: date
    day_start: datetime  # local midnight
    day_end: datetime  # the next local midnight
    minutes: tuple[datetime, ...]  # the last WHOLE_MINUTES whole minutes and the current one

    @classmethod
    def at(cls, now: datetime, timezone: str) -> LiveClock:
        zone = ZoneInfo(timezone)
        now = now.astimezone(UTC)
        local_date = now.astimezone(zone).date()

        def midnight(day: date) -> datetime:
            # From the local date, not now - 24 h: a day with a DST change is not 24 h long.
            return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)

        # Minutes are cut in UTC; every zone in use is a whole number of minutes off UTC, so
        # they are the local minutes too.
        current = now.replace(second=0, microsecond=0)
        return cls(
            now=now,
            local_date=local_date,
            day_start=midnight(local_date),
            day_end=midnight(local_date + timedelta(days=1)),
            minutes=tuple(current - k * MINUTE for k in range(WHOLE_MINUTES, -1, -1)),
        )


class _ActiveCards(BaseModel):
    count: int
    as_of: datetime


async def _active_cards(
    session: ReadSession, cache: Cache, clock: LiveClock, ttl_s: int, include_simulated: bool
) -> _ActiveCards:
    """Today's distinct cards, cached apart from the dashboard for longer: counting them
    reads every tap of the day (about 0.3 s at a million taps), the rest reads small tables.
    The local date is in the key, so yesterday's count is never served after midnight."""

    async def load() -> bytes:
        count = await live_repository.distinct_cards(
            session, clock.day_start, clock.day_end, include_simulated
        )
        return _ActiveCards(count=count, as_of=clock.now).model_dump_json().encode()

    key = clock.local_date.isoformat() + (":simulated" if include_simulated else "")
    body = await cache.read_through(ACTIVE_CARDS_GROUP, key, ttl_s, load, stale_ok=True)
    return _ActiveCards.model_validate_json(body)


async def dashboard_view(reads: Reads, include_simulated: bool) -> bytes:
    """One answer for every dashboard polling within the TTL: the figures are then at most
    cache_ttl_live_s old (plus the stale grace while one caller recomputes them)."""
    settings = reads.settings
    return await reads.view(
        GROUP,
        cache_field("live", include_simulated),
        settings.cache_ttl_live_s,
        lambda session: dashboard(
            session,
            reads.cache,
            reads.clock(),
            settings.timezone,
            settings.cache_ttl_live_active_cards_s,
            include_simulated,
        ),
        stale_ok=True,
    )


async def dashboard(
    session: ReadSession,
    cache: Cache,
    now: datetime,
    timezone: str,
    active_cards_ttl_s: int,
    include_simulated: bool = False,
) -> LiveDashboard:
    """The dashboard as of `now`; `timezone` should be the rollups' (analytics_settings),
    the same city zone, so that today's rollup rows and the local midnight agree. Real
    riders only, unless `include_simulated` adds the traffic simulator's."""
    clock = LiveClock.at(now, timezone)
    hours = await repository.day_by_hour(session, clock.local_date, include_simulated)
    stations = await repository.station_day_by_locality(
        session, clock.local_date, include_simulated
    )
    taps = await live_repository.taps_by_minute(
        session, clock.minutes[0], clock.minutes[-1] + MINUTE, include_simulated
    )
    active = await _active_cards(session, cache, clock, active_cards_ttl_s, include_simulated)

    today = TodayFigures(
        trips=sum(h[0] for h in hours.values()),
        transfers=sum(h[1] for h in hours.values()),
        credit_trips=sum(h[2] for h in hours.values()),
        revenue=sum(h[3] for h in hours.values()),
    )
    # A boarding's locality, as the rollups attribute it (rollup_sql.APPLY_INPUT), is its
    # station's, or for an on-board validator (route only) that of the route's first stop.
    # Only the all-time totals keep that attribution; of the daily rollups only
    # rollup_station_days knows a locality, and it holds the boardings at trunk stations,
    # portals and cable stations. So a locality's figure today is its stations' boardings
    # (the same rule, for those taps), and every other boarding (zonal and feeder buses, and
    # taps at zonal stops) is one separate figure rather than a guess: the localities and
    # that figure add up to today's totals. (Not below zero: a fold may land between the two
    # reads, each its own snapshot, for one refresh.)
    station_trips = sum(row[2] for row in stations)
    station_revenue = sum(row[3] for row in stations)
    minutes = [MinuteTaps(minute=m, taps=taps.get(m, 0)) for m in clock.minutes]
    return LiveDashboard(
        generated_at=clock.now,
        timezone=timezone,
        local_date=clock.local_date,
        today=today,
        active_cards_today=active.count,
        active_cards_as_of=active.as_of,
        taps_per_minute=minutes,
        taps_last_minute=minutes[-2].taps,
        revenue_by_locality_today=[
            LocalityToday(code=code, name=name, revenue=rev, trips=boardings)
            for code, name, boardings, rev in stations
        ],
        revenue_outside_stations_today=OutsideStationsToday(
            revenue=max(0, today.revenue - station_revenue),
            trips=max(0, today.trips - station_trips),
        ),
        trips_by_hour_today=[
            HourTrips(hour=hour, trips=hours.get(hour, (0, 0, 0, 0))[0]) for hour in range(24)
        ],
    )
