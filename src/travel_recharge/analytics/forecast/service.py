"""The revenue forecast on the served side: its stored answer, and when to refit it.

Workers never fit (job.py does, in a process of its own): they read the stored answer through
the cache, and look every TR_FORECAST_CHECK_INTERVAL_S whether it is older than
TR_FORECAST_REFIT_S; if so they start the job, which fits once for all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from travel_recharge.analytics.forecast import repository
from travel_recharge.analytics.forecast.errors import ForecastNotFitted
from travel_recharge.analytics.jobs import run_module, run_when_due
from travel_recharge.analytics.views import GROUP
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import Database, ReadSession
from travel_recharge.kit.views import Reads

JOB_MODULE = "travel_recharge.analytics.forecast.job"
JOB_TIMEOUT_S = 600.0
FIRST_CHECK_S = 10.0  # soon after start: a new deployment shows a forecast within a minute


async def forecast_view(reads: Reads) -> bytes:
    """The stored answer as it was stored (the job wrote it as the schema's JSON)."""

    async def load(session: ReadSession) -> bytes:
        answer = await repository.stored_answer(session)
        if answer is None:
            raise ForecastNotFitted
        return answer.encode()

    ttl = reads.settings.cache_ttl_forecast_s
    return await reads.raw(GROUP, "revenue-forecast", ttl, load, stale_ok=True)


async def refit_due(database: Database, settings: Settings, now: datetime) -> bool:
    async with database.primary.connect() as connection:
        fitted = await repository.fitted_at(connection)
    return fitted is None or now - fitted >= timedelta(seconds=settings.forecast_refit_s)


async def run_job() -> str:
    """Run the forecast job in a process of its own; returns the line it printed."""
    return await run_module(JOB_MODULE, JOB_TIMEOUT_S)


async def refit_forever(database: Database, settings: Settings) -> None:
    await run_when_due(
        "forecast.refit",
        JOB_MODULE,
        JOB_TIMEOUT_S,
        lambda: refit_due(database, settings, datetime.now(UTC)),
        FIRST_CHECK_S,
        settings.forecast_check_interval_s,
    )
