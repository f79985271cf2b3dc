"""Rider behaviour: a day's figures computed once by the daily job (`count_day_figures`), and
the stored answer served through the cache."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from travel_recharge.analytics.riders import repository
from travel_recharge.analytics.riders.schemas import (
    CountBin,
    DayActivity,
    RechargeHabits,
    RiderBehaviour,
    Segment,
)
from travel_recharge.analytics.service import share
from travel_recharge.analytics.views import DAILY_GROUP
from travel_recharge.kit.clock import local_days
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.errors import NotFound, ServiceUnavailable, Unprocessable
from travel_recharge.kit.views import Reads

WINDOW_DAYS = 28  # segments and recharge habits look back four weeks
KEPT_DAYS = 56  # rider days are kept eight weeks: a recounted day's window is still there
# A personalized card riding on 12 or more of the window's 20 weekdays (three a week) rides
# to a regular destination: a commuter, as transit planners segment smart-card riders.
REGULAR_WEEKDAYS = 12
DORMANT_DAYS = 30


class RiderFiguresNotCounted(ServiceUnavailable):
    """No day's rider figures yet (a new deployment: the daily job counts each finished day
    within TR_FLOWS_CHECK_INTERVAL_S of a worker's start)."""

    def __init__(self) -> None:
        super().__init__(
            "rider figures: not counted yet; each worker starts the daily job within"
            " TR_FLOWS_CHECK_INTERVAL_S of its start, or run `travel-recharge flows`"
        )


async def riders_view(reads: Reads, day: date | None, now: datetime) -> bytes:
    today = now.astimezone(ZoneInfo(reads.settings.timezone)).date()
    if day is not None and day >= today:
        raise Unprocessable("day: is not a finished day (the figures start yesterday)")

    async def load(session: ReadSession) -> bytes:
        answer = await repository.stored_answer(session, day)
        if answer is None:
            if day is None:
                raise RiderFiguresNotCounted
            raise NotFound(f"day: {day.isoformat()} has no rider figures (no trips counted)")
        return answer.encode()

    field = f"riders:{day.isoformat() if day else 'latest'}"
    return await reads.raw(
        DAILY_GROUP, field, reads.settings.cache_ttl_flows_s, load, stale_ok=True
    )


def _bins(counts: dict[int, int], labels: list[str]) -> list[CountBin]:
    return [CountBin(label=label, count=counts.get(i, 0)) for i, label in enumerate(labels)]


def amount_labels() -> list[str]:
    edges = repository.AMOUNT_EDGES
    return [
        f"< {edges[0]:,}",
        *(f"{low:,}-{high - 1:,}" for low, high in itertools.pairwise(edges)),
        f">= {edges[-1]:,}",
    ]


def gap_labels() -> list[str]:
    edges = repository.GAP_EDGES
    spans = (
        ("1 day" if low == 1 else f"{low} days") if high - 1 == low else f"{low}-{high - 1} days"
        for low, high in itertools.pairwise(edges)
    )
    return ["< 1 day", *spans, f"{edges[-1]}+ days"]


async def count_day_figures(
    connection: AsyncConnection, day: date, zone: ZoneInfo
) -> RiderBehaviour:
    """The figures of `day` from the rider days (and recharges, cards) of the window."""
    first = day - timedelta(days=WINDOW_DAYS - 1)
    start, end = local_days(first, day, zone)
    daily = await repository.daily(connection, first, day)
    today = next(((cards, trips) for d, cards, trips in daily if d == day), (0, 0))
    segments = [
        Segment(
            segment=name,
            cards=cards,
            active_days=days,
            trips=trips,
            trips_per_card=round(trips / cards, 2) if cards else 0.0,
            transfer_share=share(transfers, trips),
            credit_share=share(credit, trips),
        )
        for name, cards, days, trips, transfers, credit in await repository.segments(
            connection, first, day, REGULAR_WEEKDAYS
        )
    ]
    (count, pesos, median_amount, median_gap), amounts, gaps = await repository.recharges(
        connection, start, end
    )
    issued, dormant = await repository.dormant(connection, end - timedelta(days=DORMANT_DAYS), end)
    return RiderBehaviour(
        day=day,
        window_days=WINDOW_DAYS,
        active_cards_day=today[0],
        active_cards_week=await repository.distinct_cards(connection, day - timedelta(days=6), day),
        active_cards_window=sum(s.cards for s in segments),
        trips_day=today[1],
        trips_per_active_card=round(today[1] / today[0], 2) if today[0] else None,
        daily=[DayActivity(day=d, active_cards=c, trips=t) for d, c, t in daily],
        segments=segments,
        recharges=RechargeHabits(
            recharges=count,
            amount=pesos,
            median_amount=median_amount,
            amounts=_bins(amounts, amount_labels()),
            median_days_between=median_gap,
            days_between=[
                CountBin(label="first", count=gaps.get(-1, 0)),
                *_bins(gaps, gap_labels()),
            ],
        ),
        dormant_cards=dormant,
        dormant_share=share(dormant, issued),
    )
