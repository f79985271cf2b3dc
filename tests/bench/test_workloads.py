"""The suite's per-card read is primed: every card asked once, in turn, before measuring."""

from __future__ import annotations

from travel_recharge.bench.workloads import READS, CardRanges, priming_request


def test_priming_asks_every_card_of_the_read_once_per_round() -> None:
    [per_card] = [read for read in READS if "{card_id}" in read.path]
    ranges = CardRanges(cards=10)
    request, cards = priming_request(per_card, ranges)
    assert cards == 5  # the HTTP half of the tap cards, which the read picks from
    asked = [request().split(b" ")[1].decode() for _ in range(2 * cards)]
    paths = [f"/api/v1/cards/{card}/balance" for card in range(1, 6)]
    assert asked == paths + paths
