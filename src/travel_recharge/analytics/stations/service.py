"""Station performance: the day's boardings per station, its hours against the same
weekday-hour of earlier weeks (anomalies), its peak hour and busiest 15 minutes, and its rank
this week against the week before."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from travel_recharge.analytics.stations import repository, scores
from travel_recharge.analytics.stations.schemas import HourAnomaly, StationDay, StationPerformance
from travel_recharge.analytics.views import GROUP
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.errors import Unprocessable
from travel_recharge.kit.views import Reads

DEFAULT_WEEKS = 8
NO_BOARDINGS = [0] * 24  # a station's hours on a day it had none


def day_asked(day: date | None, now: datetime, timezone: str) -> tuple[date, int]:
    """The local day asked for (today by default) and how many of its hours are complete."""
    local = now.astimezone(ZoneInfo(timezone))
    day = day or local.date()
    if day > local.date():
        raise Unprocessable("day: is in the future")
    return day, 24 if day < local.date() else local.hour


async def performance_view(reads: Reads, day: date | None, weeks: int, now: datetime) -> bytes:
    """Cached per day, history length and completed hours (today's answer moves each hour)."""
    asked, complete_hours = day_asked(day, now, reads.settings.timezone)
    return await reads.view(
        GROUP,
        f"stations:performance:{asked.isoformat()}:{weeks}:{complete_hours}",
        reads.settings.cache_ttl_station_performance_s,
        lambda session: performance(session, asked, weeks, complete_hours),
        stale_ok=True,
    )


async def performance(
    session: ReadSession, day: date, weeks: int, complete_hours: int = 24
) -> StationPerformance:
    """Hours from `complete_hours` on (today's future) are not judged."""
    earlier = [day - timedelta(weeks=k) for k in range(1, weeks + 1)]
    by_hour, by_quarter = await repository.timelines(session, day, earlier)
    # A day without any station's boardings (before the data began, or with the fare system
    # down) is no history.
    present = {on for by_day in by_hour.values() for on in by_day}
    history = [d for d in earlier if d in present]
    this_week, week_before = await repository.weeks_boardings(session, day)
    stations = set(by_quarter) | set(this_week)
    # Also the stations of the history: one silent all week is a low anomaly, named too.
    named = await repository.names(session, stations | set(by_hour))

    judged = 0
    anomalies: list[HourAnomaly] = []
    for station, by_day in by_hour.items():
        today = by_day.get(day, NO_BOARDINGS)
        # Hour by hour, the same hour of each earlier week.
        weeks_before = zip(*(by_day.get(d, NO_BOARDINGS) for d in history), strict=True)
        # (Not strict: today's unfinished hours are cut off, and no history means no hours.)
        judging = zip(today[:complete_hours], weeks_before, strict=False)
        for hour, (now, counts) in enumerate(judging):
            if not now and not any(counts):
                continue  # an hour nobody boarded in, now or before, is not judged
            score = scores.hour_score(now, counts)
            if score is None:
                continue
            judged += 1
            if score.anomaly:
                code, name = named.get(station, ("", ""))
                anomalies.append(
                    HourAnomaly(
                        station_id=station,
                        code=code,
                        name=name,
                        hour=hour,
                        boardings=now,
                        usual=score.median,
                        robust_z=score.robust_z,
                        direction="high" if score.robust_z > 0 else "low",
                    )
                )
    anomalies.sort(key=lambda a: (-abs(a.robust_z), a.station_id, a.hour))
    flagged: dict[int, int] = {}
    for anomaly in anomalies:
        flagged[anomaly.station_id] = flagged.get(anomaly.station_id, 0) + 1

    rank_now, rank_before = scores.ranks(this_week), scores.ranks(week_before)
    days = [
        _station_day(
            station,
            named.get(station, ("", "")),
            by_quarter.get(station, [0] * 96),
            rank_now.get(station),
            rank_before.get(station),
            flagged.get(station, 0),
        )
        for station in stations
    ]
    days.sort(key=lambda s: (-s.boardings, s.code))
    return StationPerformance(
        day=day,
        weekday=day.strftime("%A"),
        history_days=history,
        hours_judged=judged,
        z_threshold=scores.Z_THRESHOLD,
        stations=days,
        anomalies=anomalies,
    )


def _station_day(
    station: int,
    code_and_name: tuple[str, str],
    quarters: list[int],
    rank: int | None,
    rank_before: int | None,
    anomalies: int,
) -> StationDay:
    peak = scores.peak_hour(quarters)
    busiest = scores.busiest_quarter(quarters)
    return StationDay(
        station_id=station,
        code=code_and_name[0],
        name=code_and_name[1],
        boardings=sum(quarters),
        peak_hour=peak.hour if peak else None,
        peak_hour_boardings=peak.boardings if peak else 0,
        peak_hour_factor=peak.factor if peak else None,
        busiest_15_min=f"{busiest // 4:02d}:{busiest % 4 * 15:02d}"
        if busiest is not None
        else None,
        busiest_15_min_boardings=quarters[busiest] if busiest is not None else 0,
        rank=rank,
        rank_week_before=rank_before,
        rank_change=rank_before - rank if rank is not None and rank_before is not None else None,
        anomalies=anomalies,
    )
