"""The forecast's arithmetic: the baseline, the backtest, and the model against the baseline
on the generator's data (the generator's riders, without a database)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from tests.seed.conftest import reference_world
from travel_recharge.analytics.forecast import model
from travel_recharge.analytics.holidays import holidays
from travel_recharge.seed.generate import generate_cards
from travel_recharge.seed.options import SeedOptions

BOGOTA = ZoneInfo("America/Bogota")
MONDAY = date(2026, 1, 5)
WEEK = (100_000, 104_000, 103_000, 105_000, 120_000, 60_000, 35_000)  # Monday first


def test_seasonal_naive_repeats_the_last_week_weekday_by_weekday() -> None:
    history = list(range(1, 16))  # 15 days: the last week is days 9-15
    assert model.seasonal_naive(history, 10) == [9, 10, 11, 12, 13, 14, 15, 9, 10, 11]


def test_the_daily_series_has_every_day_and_zero_where_nothing_was_taken() -> None:
    revenue = {MONDAY: 5, MONDAY + timedelta(days=2): 7}
    assert model.daily_series(revenue, MONDAY, MONDAY + timedelta(days=3)) == [5, 0, 7, 0]


def test_a_pure_weekly_pattern_is_forecast_exactly_by_both() -> None:
    history = [WEEK[i % 7] for i in range(8 * 7)]
    tested = model.backtest(history, MONDAY)
    assert tested.origins == [MONDAY + timedelta(days=d) for d in (28, 35, 42, 49)]
    assert tested.scored_days == 28
    assert tested.seasonal_naive_mape_pct == 0.0
    assert tested.model_mape_pct < 0.5
    days = model.forecast(history, MONDAY, model.HORIZON_DAYS)
    assert [d.day for d in days] == [MONDAY + timedelta(days=56 + i) for i in range(14)]
    for day, expected in zip(days, [WEEK[i % 7] for i in range(14)], strict=True):
        assert abs(day.revenue - expected) <= expected * 0.005, day
        assert day.lower <= day.revenue <= day.upper


def test_days_without_revenue_are_not_scored_and_short_histories_are_refused() -> None:
    history = [WEEK[i % 7] if i % 7 != 6 else 0 for i in range(8 * 7)]  # Sundays: closed
    assert model.backtest(history, MONDAY).scored_days == 24
    with pytest.raises(ValueError, match="the backtest needs 49"):
        model.backtest(history[:48], MONDAY)


@cache
def generated_revenue(days: int, users: int, seed: int, until: date) -> list[int]:
    """The generator's fare revenue per local day (its riders' weekday and weekend habits)."""
    options = SeedOptions(users=users, days=days, random_seed=seed, until=until)
    rows = generate_cards(reference_world(), options, 1, options.cards)
    by_day: Counter[date] = Counter()
    for trip in rows.trips:
        at, fare = trip[6], trip[9]
        by_day[at.astimezone(BOGOTA).date()] += fare
    first = until - timedelta(days=days)
    return model.daily_series(by_day, first, until - timedelta(days=1))


@pytest.mark.parametrize(
    ("users", "days", "seed", "until", "model_mape", "naive_mape"),
    [
        (400, 70, 11, date(2026, 11, 2), 4.08, 14.82),
        # The demo's riders (`make run`: seed 42, eight weeks), on a fixed calendar.
        (1000, 56, 42, date(2026, 12, 7), 1.93, 12.44),
    ],
    ids=["400-riders-10-weeks", "demo"],
)
def test_on_the_generators_data_the_model_beats_seasonal_naive(
    users: int, days: int, seed: int, until: date, model_mape: float, naive_mape: float
) -> None:
    history = generated_revenue(days, users, seed, until)
    assert len(history) == days
    assert min(history) > 0
    tested = model.backtest(history, until - timedelta(days=days))
    assert tested.scored_days == 28
    # Day-to-day noise makes last week's same weekday a poor guess; the smoothed season
    # does better. Both errors are asserted, not only their order.
    # (A tolerance for another release of the fitting libraries, not for another model.)
    assert tested.model_mape_pct == pytest.approx(model_mape, abs=0.05)
    assert tested.seasonal_naive_mape_pct == pytest.approx(naive_mape, abs=0.001)
    assert tested.model_mape_pct < tested.seasonal_naive_mape_pct


def test_a_holiday_ahead_is_forecast_as_the_sunday_of_its_week() -> None:
    # Eight weeks to Sunday 22 March 2026; Monday 23 March is San José, a holiday.
    first = date(2026, 1, 26)
    history = [WEEK[i % 7] for i in range(8 * 7)]
    days = model.forecast(history, first, 14)
    assert [d.day for d in days[:2]] == [date(2026, 3, 23), date(2026, 3, 24)]
    assert abs(days[0].revenue - WEEK[6]) <= WEEK[6] * 0.01  # as a Sunday
    assert abs(days[1].revenue - WEEK[1]) <= WEEK[1] * 0.01  # the Tuesday as a Tuesday
    assert abs(days[7].revenue - WEEK[0]) <= WEEK[0] * 0.01  # Monday 30 March as a Monday
    # The same history a week earlier forecasts 16 March, an ordinary Monday, as a Monday.
    earlier = model.forecast(history, first - timedelta(days=7), 1)
    assert abs(earlier[0].revenue - WEEK[0]) <= WEEK[0] * 0.01


def test_a_holiday_in_the_history_does_not_bend_the_weekly_season() -> None:
    # Monday 12 January 2026 (Reyes) ridden as a Sunday, inside eight weeks from 5 January.
    history = [WEEK[i % 7] for i in range(8 * 7)]
    history[7] = WEEK[6]
    assert model.without_holidays(history, MONDAY)[7] == WEEK[0]
    days = model.forecast(history, MONDAY, 7)
    assert abs(days[0].revenue - WEEK[0]) <= WEEK[0] * 0.005  # Monday 2 March


def test_colombias_holidays_of_2025_and_2026() -> None:
    assert sorted(holidays(2025)) == [
        date(2025, 1, 1), date(2025, 1, 6), date(2025, 3, 24), date(2025, 4, 17),
        date(2025, 4, 18), date(2025, 5, 1), date(2025, 6, 2), date(2025, 6, 23),
        date(2025, 6, 30), date(2025, 7, 20), date(2025, 8, 7), date(2025, 8, 18),
        date(2025, 10, 13), date(2025, 11, 3), date(2025, 11, 17), date(2025, 12, 8),
        date(2025, 12, 25),
    ]  # fmt: skip
    assert sorted(holidays(2026)) == [
        date(2026, 1, 1), date(2026, 1, 12), date(2026, 3, 23), date(2026, 4, 2),
        date(2026, 4, 3), date(2026, 5, 1), date(2026, 5, 18), date(2026, 6, 8),
        date(2026, 6, 15), date(2026, 6, 29), date(2026, 7, 20), date(2026, 8, 7),
        date(2026, 8, 17), date(2026, 10, 12), date(2026, 11, 2), date(2026, 11, 16),
        date(2026, 12, 8), date(2026, 12, 25),
    ]  # fmt: skip
