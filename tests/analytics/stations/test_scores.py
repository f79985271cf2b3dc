"""Station performance's arithmetic, on numbers worked out by hand."""

from __future__ import annotations

from random import Random
from statistics import median

import pytest

from travel_recharge.analytics.stations import scores

HISTORY = [40, 44, 38, 41, 43, 39, 42, 40]  # median 40.5; deviations' median 1.5


def test_an_hour_like_its_history_is_not_an_anomaly() -> None:
    score = scores.hour_score(41, HISTORY)
    assert score is not None
    assert score.median == 40.5
    # (41 - 40.5) / (1.4826 * 1.5) = 0.22
    assert score.robust_z == 0.22
    assert not score.anomaly


def test_a_spike_and_a_drop_are_anomalies_with_their_sign() -> None:
    spike = scores.hour_score(80, HISTORY)
    drop = scores.hour_score(20, HISTORY)
    assert spike is not None
    assert drop is not None
    # (80 - 40.5) / 2.2239 = 17.76; (20 - 40.5) / 2.2239 = -9.22
    assert (spike.robust_z, spike.anomaly) == (17.76, True)
    assert (drop.robust_z, drop.anomaly) == (-9.22, True)
    # Just under and just over the threshold of 3.5 spreads:
    assert not scores.hour_score(48, HISTORY).anomaly  # type: ignore[union-attr]  # z 3.37
    assert scores.hour_score(49, HISTORY).anomaly  # type: ignore[union-attr]  # z 3.82


def test_one_odd_week_in_the_history_does_not_hide_a_spike() -> None:
    # A mean and standard deviation would be pulled up by the 400; the median and MAD not.
    score = scores.hour_score(80, [40, 44, 38, 41, 400, 39, 42, 40])
    assert score is not None
    assert score.anomaly


def test_weeks_that_agree_exactly_and_quiet_hours() -> None:
    # MAD 0: the mean deviation scales instead: (30 - 20) / (1.2533 * 1.25) = 6.38.
    assert scores.hour_score(30, [20, 20, 20, 20, 20, 20, 25, 25]).robust_z == 6.38  # type: ignore[union-attr]
    # A quiet hour: the spread is at least one boarding, so 0 -> 1 is z 1, not infinite.
    assert scores.hour_score(1, [0, 0, 0, 0]).robust_z == 1.0  # type: ignore[union-attr]
    assert scores.hour_score(9, [0, 0, 0]) is None  # three weeks: too little history


def test_peak_hour_factor_and_busiest_quarter() -> None:
    quarters = [0] * 96
    quarters[7 * 4 : 8 * 4] = [100, 150, 120, 130]  # 07:00-08:00: 500, busiest 07:15 (150)
    quarters[17 * 4 : 18 * 4] = [110, 110, 110, 110]  # 17:00-18:00: 440, even
    peak = scores.peak_hour(quarters)
    assert peak == scores.PeakHour(hour=7, boardings=500, factor=round(500 / 600, 3))
    assert scores.busiest_quarter(quarters) == 7 * 4 + 1
    assert scores.peak_hour([0] * 96) is None
    assert scores.busiest_quarter([0] * 96) is None


@pytest.mark.parametrize(
    ("boardings", "expected"),
    [
        ({1: 10, 2: 30, 3: 20}, {2: 1, 3: 2, 1: 3}),
        ({1: 10, 2: 30, 3: 30}, {2: 1, 3: 1, 1: 3}),  # a tie shares the better place
    ],
)
def test_ranks(boardings: dict[int, int], expected: dict[int, int]) -> None:
    assert scores.ranks(boardings) == expected


def test_the_score_is_the_textbook_formula_on_many_histories() -> None:
    """hour_score computes medians by hand for speed: it must equal statistics.median's."""
    chance = Random(11)
    for _ in range(3000):
        history = [chance.choice((0, 1, 2, 40, 41, 300)) for _ in range(chance.randrange(4, 12))]
        boardings = chance.randrange(0, 400)
        middle = median(history)
        deviations = [abs(value - middle) for value in history]
        mad = median(deviations)
        spread = 1.4826 * mad if mad else 1.2533 * sum(deviations) / len(deviations)
        expected = (float(middle), round((boardings - middle) / max(spread, 1.0), 2))
        assert scores.hour_score(boardings, history) == expected, (boardings, history)
    assert scores.hour_score(10, [1, 2, 3]) is None  # under four weeks: not judged
