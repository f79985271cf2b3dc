"""The suite's per-card read is primed: every card asked once, in turn, before measuring."""

from __future__ import annotations

from travel_recharge.bench.workloads import (
    READS,
    CardRanges,
    priming_request,
    recharge_card_count,
)


def test_priming_asks_every_card_of_the_read_once_per_round() -> None:
    [per_card] = [read for read in READS if "{card_id}" in read.path]
    ranges = CardRanges(cards=10)
    request, cards = priming_request(per_card, ranges)
    assert cards == 5  # the HTTP half of the tap cards, which the read picks from
    asked = [request().split(b" ")[1].decode() for _ in range(2 * cards)]
    paths = [f"/api/v1/cards/{card}/balance" for card in range(1, 6)]
    assert asked == paths + paths


def test_recharge_cards_are_sized_for_the_run_so_none_reaches_the_maximum_balance() -> None:
    # The front's tiny run (1.2 s) once had 10 cards: a fast node filled them, 12 recharges
    # got 422. Planned for 5,000 recharges/s and 30 per card, 1.2 s needs 200 cards.
    assert recharge_card_count(20, 1.2) == 200
    assert recharge_card_count(4000, 0.0) == 1000  # a quarter of the tap cards at least
    assert recharge_card_count(8, 0.0) == 10
    ranges = CardRanges(cards=4000, recharge_seconds=22.0)
    first, last = ranges.recharges
    assert (first, last - first + 1) == (4001, 3667)
