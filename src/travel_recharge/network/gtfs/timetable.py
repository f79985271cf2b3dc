"""Departures, band headways and frequency windows: one timetable, three shapes. Pure.

Departures are seconds after the service day's start (GTFS time). A route with departures
runs by them; its band headways (what the API's route details show) are derived from them:
the median gap between departures starting inside the band, the band's length when only one
does, and no entry when none does. A route with band headways only (the reference network)
departs from each band's start every headway, as network.arrivals counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from statistics import median_low

from travel_recharge.network.reference import BANDS

MINUTE_S = 60


def _seconds(clock: time) -> int:
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def expand_window(start: int, end: int, headway: int) -> range:
    """The departures of a frequencies.txt row: from start, every headway, before end."""
    return range(start, end, headway)


def band_departures(headways: Mapping[str, int]) -> list[int]:
    """The departures of a route that runs by band headways (minutes per band)."""
    found: list[int] = []
    for band in BANDS:
        headway = headways.get(band.name)
        if headway is not None and headway > 0:
            found += expand_window(_seconds(band.start), _seconds(band.end), headway * MINUTE_S)
    return found


def band_headways(departures: Iterable[int]) -> dict[str, int]:
    """Minutes between departures per band, from the departures themselves."""
    ordered = sorted(departures)
    headways: dict[str, int] = {}
    for band in BANDS:
        start, end = _seconds(band.start), _seconds(band.end)
        inside = [d for d in ordered if start <= d < end]
        if len(inside) == 1:
            headways[band.name] = (end - start) // MINUTE_S
        elif inside:
            gap = median_low(b - a for a, b in itertools.pairwise(inside))
            headways[band.name] = max(1, round(gap / MINUTE_S))
    return headways


@dataclass(frozen=True, slots=True)
class Window:
    """A frequencies.txt row with exact_times=1: departures start, start+headway, ... < end."""

    start: int
    end: int
    headway: int


def windows_and_singles(departures: Sequence[int]) -> tuple[list[Window], list[int]]:
    """The departures as runs of a constant gap (frequency windows) and lone departures.

    Each run of three or more departures a constant gap apart becomes one window; the rest
    are single trips. Expanding the windows and adding the singles gives the departures back.
    """
    ordered = sorted(set(departures))
    windows: list[Window] = []
    singles: list[int] = []
    i = 0
    while i < len(ordered):
        j, gap = i, 0
        if i + 1 < len(ordered):
            j, gap = i + 1, ordered[i + 1] - ordered[i]
            while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == gap:
                j += 1
        # GTFS wants end_time after the last start and before last start + headway.
        if j - i >= 2 and gap > 1:  # i..j is a run of at least three
            windows.append(Window(ordered[i], ordered[j] + 1, gap))
            i = j + 1
        else:
            singles.append(ordered[i])
            i += 1
    return windows, singles
