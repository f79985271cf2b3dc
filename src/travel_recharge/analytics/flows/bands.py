"""Time bands of the day (local hours) that origin-destination counts are kept by.

Fixed bands rather than free hour ranges: each band multiplies the stored pairs, and these are
the periods planners compare (the peaks against the valley between them).
"""

from __future__ import annotations

from typing import Literal

Band = Literal["early", "am_peak", "midday", "pm_peak", "night"]

# name -> (first hour, hour after the last), local time
BANDS: dict[Band, tuple[int, int]] = {
    "early": (0, 5),
    "am_peak": (5, 9),
    "midday": (9, 16),
    "pm_peak": (16, 20),
    "night": (20, 24),
}

_BY_HOUR: tuple[Band, ...] = tuple(
    next(name for name, (first, end) in BANDS.items() if first <= hour < end) for hour in range(24)
)


def band_of(hour: int) -> Band:
    return _BY_HOUR[hour]
