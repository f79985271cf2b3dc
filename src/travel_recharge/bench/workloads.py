"""What the suite sends: reads by role, taps, recharges, and a mix of them all.

The mix follows the seed project's load-test personas: mobile-app riders 55% (balance,
stations), system users 28% (taps and recharges), analysts 11%, admins 6% (cache stats,
health). The fixture cards have no owner, so a rider's balance check is made by an
operator, who may read any card: the same endpoint, query and cache entry.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from travel_recharge.bench.http_load import get_request, post_request
from travel_recharge.bench.server import authorization
from travel_recharge.bench.taps import tap_request
from travel_recharge.security.roles import Role

HOST = "127.0.0.1"
RECHARGE_PATH = "/api/v1/cards/recharge"
RECHARGE_POINT_ID = 1  # the fixture's counter (suite_fixture.sql)
# Counter amounts in pesos: each fixture card (empty) takes ~70 before the maximum balance.
RECHARGE_AMOUNTS = (2000, 5000, 10000)
# Recharge cards are sized for a node far faster than any measured (1,175/s in session 8),
# each card planned for fewer than half the ~70 recharges it holds: a random card that
# draws more than its share still stays under the maximum, so no recharge is refused.
PLANNED_RECHARGES_PER_S = 5_000
PLANNED_RECHARGES_PER_CARD = 30
BALANCE_PATH = "/api/v1/cards/{card_id}/balance"

MakeRequest = Callable[[], bytes]


@dataclass(frozen=True)
class Read:
    path: str
    role: Role | None  # None: public


# A representative read of each kind: a card view, reference data, analytics.
READS = (
    Read(BALANCE_PATH, Role.operator),
    Read("/api/v1/stations", None),
    Read("/api/v1/stations/02000/details", None),
    Read("/api/v1/trips/total", Role.analyst),
    Read("/api/v1/analytics/top-stations", Role.analyst),
)


@dataclass(frozen=True)
class CardRanges:
    """Tap cards (HTTP half, pgbench half) at the maximum balance; recharge cards empty."""

    cards: int
    recharge_seconds: float = 0.0  # how long recharges are sent, warm-ups included

    @property
    def http_taps(self) -> tuple[int, int]:
        return 1, self.cards // 2

    @property
    def pgbench_taps(self) -> tuple[int, int]:
        return self.cards // 2 + 1, self.cards

    @property
    def recharges(self) -> tuple[int, int]:
        return self.cards + 1, self.cards + recharge_card_count(self.cards, self.recharge_seconds)


def recharge_card_count(tap_cards: int, seconds: float) -> int:
    """Empty cards enough for `seconds` of recharges without one reaching the maximum."""
    planned = math.ceil(seconds * PLANNED_RECHARGES_PER_S / PLANNED_RECHARGES_PER_CARD)
    return max(10, tap_cards // 4, planned)


def read_request(read: Read, ranges: CardRanges) -> MakeRequest:
    if "{card_id}" not in read.path:
        headers = authorization(read.role) if read.role else {}
        fixed = get_request(HOST, read.path, headers)
        return lambda: fixed
    first, last = ranges.http_taps
    return _per_card(read, lambda: random.randint(first, last))


def priming_request(read: Read, ranges: CardRanges) -> tuple[MakeRequest, int]:
    """Each card of a per-card read in turn, and how many cards there are: asked once each
    before measuring, their views are cached, as the workload (a cached read) is named for.
    Left cold, each card's first read would come from PostgreSQL: about a fifth of a 10 s
    run's requests at 2,000 cards."""
    first, last = ranges.http_taps
    return _per_card(read, itertools.cycle(range(first, last + 1)).__next__), last - first + 1


def _per_card(read: Read, card: Callable[[], int]) -> MakeRequest:
    """`read` for the card `card()` names, asked anew for each request."""
    headers = authorization(read.role) if read.role else {}

    def request() -> bytes:
        return get_request(HOST, read.path.format(card_id=card()), headers)

    return request


def taps_request(ranges: CardRanges) -> MakeRequest:
    return tap_request(*ranges.http_taps)


def recharge_request(ranges: CardRanges) -> MakeRequest:
    """A counter recharge of a random empty card, each with its own Idempotency-Key."""
    headers = authorization(Role.recharge_point, recharge_point_id=RECHARGE_POINT_ID)
    first, last = ranges.recharges
    return recharge_on(range(first, last + 1), RECHARGE_POINT_ID, headers)


def recharge_on(
    cards: Sequence[int], point_id: int, headers: Mapping[str, str], host: str = HOST
) -> MakeRequest:
    """A recharge of a random card of `cards` at `point_id`, each with its own key."""

    def request() -> bytes:
        body = {
            "card_id": random.choice(cards),
            "amount": random.choice(RECHARGE_AMOUNTS),
            "recharge_point_id": point_id,
        }
        key = {"Idempotency-Key": f"bench-{uuid.uuid4().hex}"}
        return post_request(host, RECHARGE_PATH, json.dumps(body).encode(), dict(headers) | key)

    return request


def mix(ranges: CardRanges) -> list[tuple[str, float, MakeRequest]]:
    """(name, weight in %, request) of the mixed workload; the weights add up to 100."""
    reads = {read.path: read_request(read, ranges) for read in READS}
    admin = authorization(Role.admin)
    cache_stats = get_request(HOST, "/api/v1/cache/stats", admin)
    health = get_request(HOST, "/api/v1/health", {})
    return [
        ("rider: card balance", 25, reads[BALANCE_PATH]),
        ("rider: stations", 15, reads["/api/v1/stations"]),
        ("rider: station details", 15, reads["/api/v1/stations/02000/details"]),
        ("system: taps", 20, taps_request(ranges)),
        ("system: recharges", 8, recharge_request(ranges)),
        ("analyst: trips total", 6, reads["/api/v1/trips/total"]),
        ("analyst: top stations", 5, reads["/api/v1/analytics/top-stations"]),
        ("admin: cache stats", 3, lambda: cache_stats),
        ("admin: health", 3, lambda: health),
    ]


def mixed_request(ranges: CardRanges) -> MakeRequest:
    parts = mix(ranges)
    makers = [make for _, _, make in parts]
    weights = [weight for _, weight, _ in parts]
    return lambda: random.choices(makers, weights)[0]()
