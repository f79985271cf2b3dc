"""The forecast's arithmetic: ETS with a weekly season, a rolling-origin backtest, a baseline.

ETS(A,N,A): additive errors, no trend, an additive weekly season, as statsmodels' ETSModel
fits it (its maximum likelihood, heuristic initial states: estimated initial states were seen
to stall far from the optimum on a plain weekly series). Its prediction interval is the
model's own. Chosen over a damped or plain additive trend and over multiplicative forms by the
backtest itself, on six generated histories (150-3,000 riders, 8-12 weeks): it beat
seasonal-naive on all six, the damped trend on five (a trend fitted on a few weeks is mostly
noise, carried 14 days ahead). The baseline is seasonal-naive: each day as the same
weekday one week before the forecast's origin. Imported by the forecast job only.

Public holidays (analytics/holidays.py) are Sundays to riders and to TransMilenio's service:
the model is fitted on a history whose holidays are replaced by the same weekday a week
before (or after), so one holiday does not bend the weekly season, and a holiday ahead is
forecast as the Sunday of its forecast week. The baseline knows no calendar.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from travel_recharge.analytics.holidays import is_holiday

SEASON_DAYS = 7
HORIZON_DAYS = 14
BACKTEST_DAYS = 28
# Rolling origin: an origin every week over the last 28 days, each forecasting its week.
BACKTEST_STEP_DAYS = 7
MIN_TRAINING_DAYS = 21  # three weekly seasons before the first origin
MIN_HISTORY_DAYS = BACKTEST_DAYS + MIN_TRAINING_DAYS
INTERVAL = 0.95
MODEL_NAME = "ETS(A,N,A), weekly season (statsmodels ETSModel)"


@dataclass(frozen=True)
class DayForecast:
    day: date
    revenue: int  # pesos
    lower: int
    upper: int


@dataclass(frozen=True)
class Backtest:
    origins: list[date]
    scored_days: int  # days of the 28 with revenue (a day without any has no percentage error)
    model_mape_pct: float
    seasonal_naive_mape_pct: float


def daily_series(revenue_by_day: Mapping[date, int], first: date, last: date) -> list[int]:
    """Revenue of every day from `first` to `last`, 0 for a day without trips."""
    days = (last - first).days + 1
    return [revenue_by_day.get(first + timedelta(days=i), 0) for i in range(days)]


def seasonal_naive(history: Sequence[float], horizon: int) -> list[float]:
    """Each day ahead as the same weekday of the history's last week."""
    last_week = history[-SEASON_DAYS:]
    return [last_week[k % SEASON_DAYS] for k in range(horizon)]


def without_holidays(history: Sequence[float], first_day: date) -> list[float]:
    """The history with each holiday replaced by the same weekday a week before it (a week
    after it when the history starts later; kept when neither is an ordinary day)."""
    days = [first_day + timedelta(days=i) for i in range(len(history))]
    adjusted = [float(v) for v in history]
    for i, day in enumerate(days):
        if not is_holiday(day):
            continue
        for j in (i - SEASON_DAYS, i + SEASON_DAYS):
            if 0 <= j < len(history) and not is_holiday(days[j]):
                adjusted[i] = float(history[j])
                break
    return adjusted


def _as_sundays(days: list[DayForecast]) -> list[DayForecast]:
    """Each holiday among `days` forecast as the Sunday nearest it among them."""
    sundays = [d for d in days if d.day.weekday() == 6]
    if not sundays:
        return days
    return [
        replace(min(sundays, key=lambda s: abs((s.day - d.day).days)), day=d.day)
        if is_holiday(d.day)
        else d
        for d in days
    ]


def _fit(history: Sequence[float], first_day: date) -> object:
    series = pd.Series(
        without_holidays(history, first_day),
        index=pd.date_range(first_day, periods=len(history), freq="D"),
    )
    model = ETSModel(
        series,
        error="add",
        trend=None,
        seasonal="add",
        seasonal_periods=SEASON_DAYS,
        initialization_method="heuristic",
    )
    with warnings.catch_warnings():
        # Convergence notes on short or flat series: the backtest says how good the fit is.
        warnings.simplefilter("ignore")
        return model.fit(disp=False, maxiter=1000)


def forecast(history: Sequence[float], first_day: date, horizon: int) -> list[DayForecast]:
    """The `horizon` days after the history, with the model's prediction interval."""
    fitted = _fit(history, first_day)
    n = len(history)
    frame = fitted.get_prediction(start=n, end=n + horizon + SEASON_DAYS - 1).summary_frame(  # type: ignore[attr-defined]
        alpha=1 - INTERVAL
    )
    start = first_day + timedelta(days=n)
    # A whole week past the horizon too, so a holiday at its end has a Sunday to borrow.
    return _as_sundays(
        [
            DayForecast(
                day=start + timedelta(days=i),
                # Revenue is never negative: the interval's low end is cut at zero.
                revenue=max(0, round(mean)),
                lower=max(0, round(lower)),
                upper=max(0, round(upper)),
            )
            for i, (mean, lower, upper) in enumerate(
                zip(frame["mean"], frame["pi_lower"], frame["pi_upper"], strict=True)
            )
        ]
    )[:horizon]


def backtest(history: Sequence[float], first_day: date) -> Backtest:
    """MAPE of the model and of seasonal-naive over the history's last 28 days, each origin
    forecasting the week after it from the days before it only."""
    n = len(history)
    if n < MIN_HISTORY_DAYS:
        raise ValueError(f"history: {n} days, the backtest needs {MIN_HISTORY_DAYS}")
    model_errors: list[float] = []
    naive_errors: list[float] = []
    origins = list(range(n - BACKTEST_DAYS, n, BACKTEST_STEP_DAYS))
    for origin in origins:
        training = history[:origin]
        actual = history[origin : origin + BACKTEST_STEP_DAYS]
        predicted = forecast(training, first_day, len(actual))
        naive = seasonal_naive(training, len(actual))
        for value, model_day, naive_value in zip(actual, predicted, naive, strict=True):
            if value > 0:
                model_errors.append(abs(model_day.revenue - value) / value)
                naive_errors.append(abs(naive_value - value) / value)
    return Backtest(
        origins=[first_day + timedelta(days=o) for o in origins],
        scored_days=len(model_errors),
        model_mape_pct=_percent(model_errors),
        seasonal_naive_mape_pct=_percent(naive_errors),
    )


def _percent(errors: list[float]) -> float:
    return round(100 * sum(errors) / len(errors), 2) if errors else 0.0
