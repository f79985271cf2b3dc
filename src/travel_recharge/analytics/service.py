"""Analytics figures from the rollups (see models/analytics.py for how they are kept).

Every figure is real riders' only, unless `include_simulated` adds the traffic simulator's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.analytics import repository
from travel_recharge.analytics.schemas import (
    ActiveUsers,
    DayRevenue,
    HourTrips,
    LatestUser,
    LatestUserInfo,
    LocalityRevenue,
    LocalityTrips,
    Revenue,
    RevenueByDay,
    RevenueByLocality,
    ServiceKindShares,
    Shares,
    StationLoad,
    TopStations,
    TotalUsers,
    TripsByHour,
    TripTotals,
    TripTotalsByLocality,
)
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.errors import Unprocessable
from travel_recharge.security.roles import Role

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


def date_range(
    date_from: date | None, date_to: date | None, now: datetime, timezone: str
) -> tuple[date, date]:
    """The inclusive local-day range asked for; by default the last 30 days up to today."""
    end = date_to or now.astimezone(ZoneInfo(timezone)).date()
    start = date_from or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise Unprocessable("date_from: must not be after date_to")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Unprocessable(f"date_from: the range may span at most {MAX_RANGE_DAYS} days")
    return start, end


async def total_users(session: ReadSession, include_simulated: bool = False) -> TotalUsers:
    counts = await repository.user_counts(session, include_simulated)
    return TotalUsers(total_users=counts[0])


async def active_users(session: ReadSession, include_simulated: bool = False) -> ActiveUsers:
    counts = await repository.user_counts(session, include_simulated)
    return ActiveUsers(active_users_count=counts[1])


async def latest_user(session: ReadSession, include_simulated: bool = False) -> LatestUser | None:
    found = await repository.latest_user(session, include_simulated)
    if found is None:
        return None
    return LatestUser(latest_user=LatestUserInfo(user_id=found[0], full_name=found[1]))


# Who may read a rider's full name here: analysts count riders and need no names; admins
# manage riders and accounts. Everyone else allowed on the endpoint sees initials.
FULL_NAME_ROLES = frozenset({Role.admin})


def initials(full_name: str) -> str:
    """ "Ana María Rider" -> "A. M. R.": enough to tell answers apart, not to name anyone."""
    return " ".join(f"{word[0]}." for word in full_name.split())


def latest_user_for(cached: bytes, role: Role) -> bytes:
    """The cached answer of /users/latest as `role` may see it (see FULL_NAME_ROLES)."""
    if role in FULL_NAME_ROLES:
        return cached
    latest = LatestUser.model_validate_json(cached)
    info = latest.latest_user
    masked = info.model_copy(update={"full_name": initials(info.full_name)})
    return LatestUser(latest_user=masked).model_dump_json().encode()


def _totals(trips: int, completed: int, revenue: int) -> dict[str, int]:
    return {
        "total_trips": trips,
        "completed_trips": completed,
        "active_trips": trips - completed,
        "total_revenue": revenue,
    }


async def trip_totals(session: ReadSession, include_simulated: bool = False) -> TripTotals:
    return TripTotals(**_totals(*await repository.totals(session, include_simulated)))


async def trip_totals_by_locality(
    session: ReadSession, include_simulated: bool = False
) -> TripTotalsByLocality:
    rows = await repository.totals_by_locality(session, include_simulated)
    return TripTotalsByLocality(
        localities=[
            LocalityTrips(locality=name, locality_code=code, **_totals(trips, completed, revenue))
            for code, name, trips, completed, revenue in rows
        ]
    )


async def revenue(session: ReadSession, include_simulated: bool = False) -> Revenue:
    return Revenue(total_revenue=(await repository.totals(session, include_simulated))[2])


async def revenue_by_locality(
    session: ReadSession, include_simulated: bool = False
) -> RevenueByLocality:
    rows = await repository.totals_by_locality(session, include_simulated)
    return RevenueByLocality(
        data=[
            LocalityRevenue(locality=name, locality_code=code, total_revenue=revenue)
            for code, name, _, _, revenue in rows
        ]
    )


async def trips_by_hour(
    session: ReadSession,
    start: date,
    end: date,
    service_kind: str | None,
    include_simulated: bool = False,
) -> TripsByHour:
    counts = await repository.trips_by_hour(session, start, end, service_kind, include_simulated)
    return TripsByHour(
        date_from=start,
        date_to=end,
        service_kind=service_kind,
        hours=[HourTrips(hour=hour, trips=counts.get(hour, 0)) for hour in range(24)],
    )


async def revenue_by_day(
    session: ReadSession, start: date, end: date, include_simulated: bool = False
) -> RevenueByDay:
    rows = await repository.by_day(session, start, end, include_simulated)
    return RevenueByDay(
        date_from=start,
        date_to=end,
        days=[DayRevenue(day=day, trips=trips, revenue=rev) for day, trips, rev in rows],
    )


async def top_stations(
    session: ReadSession, start: date, end: date, limit: int, include_simulated: bool = False
) -> TopStations:
    rows = await repository.top_stations(session, start, end, limit, include_simulated)
    return TopStations(
        date_from=start,
        date_to=end,
        stations=[
            StationLoad(station_id=i, code=c, name=n, boardings=t, revenue=r)
            for i, c, n, t, r in rows
        ],
    )


def share(part: int, whole: int) -> float:
    """`part` over `whole`, to four places; 0 of nothing is 0."""
    return round(part / whole, 4) if whole else 0.0


def _shares(
    kind: str, trips: int, transfers: int, credit: int, benefit: int, rev: int
) -> ServiceKindShares:
    return ServiceKindShares(
        service_kind=kind,
        trips=trips,
        transfers=transfers,
        transfer_share=share(transfers, trips),
        credit_trips=credit,
        credit_share=share(credit, trips),
        benefit_trips=benefit,
        revenue=rev,
    )


async def shares(
    session: ReadSession, start: date, end: date, include_simulated: bool = False
) -> Shares:
    rows = await repository.by_service_kind(session, start, end, include_simulated)
    overall = [sum(column) for column in zip(*(row[1:] for row in rows), strict=True)] or [0] * 5
    return Shares(
        date_from=start,
        date_to=end,
        by_service_kind=[_shares(*row) for row in rows],
        overall=_shares("all", *overall),
    )


async def oldest_pending_delta(session: ReadSession) -> int | None:
    """The id of the oldest tap delta not yet folded into the rollups (None: all folded).

    Ask the primary: a replica behind it would show deltas already folded as pending.
    """
    return await repository.oldest_pending_delta(session)
