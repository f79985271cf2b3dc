"""The forecast job: fit the revenue forecast on the daily revenue and store its answer.

Run by a worker (service.refit_forever) as `python -m travel_recharge.analytics.forecast.job`,
or by hand as `travel-recharge forecast`. It fits only when the stored answer is older than
TR_FORECAST_REFIT_S (unless forced) and only one job fits at a time (an advisory lock).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from travel_recharge.analytics import repository as analytics
from travel_recharge.analytics.forecast import repository
from travel_recharge.analytics.forecast.schemas import (
    ForecastBacktest,
    ForecastDay,
    RevenueForecast,
)
from travel_recharge.kit.config import Settings, get_settings
from travel_recharge.kit.db import create_engine


def build_answer(revenue_by_day: Mapping[date, int], today: date, now: datetime) -> RevenueForecast:
    """The forecast of the 14 days from `today`, fitted on every complete day before it."""
    # Imported here: a job that finds the answer fresh never pays for the fitting libraries.
    from travel_recharge.analytics.forecast import model

    last = today - timedelta(days=1)
    days_with_revenue = sorted(day for day, revenue in revenue_by_day.items() if day <= last)
    first = days_with_revenue[0] if days_with_revenue else None
    history = model.daily_series(revenue_by_day, first, last) if first else []
    answer = RevenueForecast(
        status="insufficient_history",
        fitted_at=now,
        model=model.MODEL_NAME,
        interval=model.INTERVAL,
        history_from=first,
        history_to=last,
        history_days=len(history),
        min_history_days=model.MIN_HISTORY_DAYS,
        days=[],
        backtest=None,
    )
    if first is None or len(history) < model.MIN_HISTORY_DAYS:
        return answer
    tested = model.backtest(history, first)
    days = model.forecast(history, first, model.HORIZON_DAYS)
    return answer.model_copy(
        update={
            "status": "ok",
            "days": [ForecastDay(**vars(day)) for day in days],
            "backtest": ForecastBacktest(
                days=model.BACKTEST_DAYS,
                origins=tested.origins,
                scored_days=tested.scored_days,
                model_mape_pct=tested.model_mape_pct,
                seasonal_naive_mape_pct=tested.seasonal_naive_mape_pct,
                model_beats_baseline=tested.model_mape_pct < tested.seasonal_naive_mape_pct,
            ),
        }
    )


async def fit(settings: Settings, now: datetime, *, force: bool = False) -> str:
    """Fit and store the forecast if it is due; returns what happened (for the log)."""
    if not settings.database_url:
        raise ValueError("database_url: TR_DATABASE_URL is not set")
    engine = create_engine(settings.database_url, settings, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            if not await repository.try_fit_lock(connection):
                return "busy"
            fitted = await repository.fitted_at(connection)
            if (
                not force
                and fitted is not None
                and now - fitted < timedelta(seconds=settings.forecast_refit_s)
            ):
                return "fresh"
            today = now.astimezone(ZoneInfo(settings.timezone)).date()
            # Real riders' revenue per local day, read by the revenue-by-day figure's query.
            async with AsyncSession(connection) as session:
                rows = await analytics.by_day(session, date.min, today - timedelta(days=1), False)
            revenue = {day: day_revenue for day, _, day_revenue in rows}
            answer = build_answer(revenue, today, now)
            await repository.store(connection, answer.model_dump_json(), now)
            await connection.commit()
            return answer.status
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fit the revenue forecast and store it.")
    parser.add_argument("--force", action="store_true", help="fit even if the last is fresh")
    args = parser.parse_args(argv)
    outcome = asyncio.run(fit(get_settings(), datetime.now(UTC), force=args.force))
    print(f"forecast: {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
