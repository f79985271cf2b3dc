"""Colombia's public holidays (festivos): TransMilenio runs its Sunday service on them, and
riders travel as on a Sunday (the generator's riders do; the revenue forecast expects it).

By Law 51 of 1983 (the "Ley Emiliani") most holidays move to the following Monday; those tied
to Easter follow it. Computed rather than listed, so any year has them.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

# Kept on their date.
_FIXED = ((1, 1), (5, 1), (7, 20), (8, 7), (12, 8), (12, 25))
# Moved to the next Monday when they fall on another day.
_TO_MONDAY = ((1, 6), (3, 19), (6, 29), (8, 15), (10, 12), (11, 1), (11, 11))
# Days from Easter Sunday: Holy Thursday, Good Friday, then Ascension, Corpus Christi and
# the Sacred Heart, each already the Monday after (Thursday + 4, Thursday + 4, Friday + 3).
_FROM_EASTER = (-3, -2, 43, 64, 71)


def easter(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    week = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * week) // 451
    month, day = divmod(h + week - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _next_monday(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


@cache
def holidays(year: int) -> frozenset[date]:
    sunday = easter(year)
    return frozenset(
        [date(year, month, day) for month, day in _FIXED]
        + [_next_monday(date(year, month, day)) for month, day in _TO_MONDAY]
        + [sunday + timedelta(days=offset) for offset in _FROM_EASTER]
    )


def is_holiday(day: date) -> bool:
    return day in holidays(day.year)
