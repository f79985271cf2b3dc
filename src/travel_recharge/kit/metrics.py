"""Every metric the service exports, defined once at import (prometheus-client needs that).

Labels are bounded by construction: route templates (never concrete paths), enum values of
the fare engine, cache namespaces from code, recharge channels from a CHECK constraint.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

PREFIX = "travel_recharge"

# Milliseconds matter on the tap path: 1 ms .. 2.5 s, in seconds as Prometheus expects.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from receiving a request to the end of its answer, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)

HTTP_REPLAYED = Counter(
    f"{PREFIX}_http_replayed",
    "GET answers replayed at the edge from a cached view, without running the route "
    "(kit.replay); they are also counted in the requests above.",
)

HTTP_DIRECT = Counter(
    f"{PREFIX}_http_direct",
    "Requests answered by a direct route (kit.direct: taps, recharges), without FastAPI's "
    "routing; they are also counted in the requests above.",
)

CACHE_HITS = Counter(
    f"{PREFIX}_cache_hits", "Cache lookups answered from Redis, by namespace.", ["namespace"]
)
CACHE_MISSES = Counter(
    f"{PREFIX}_cache_misses",
    "Cache lookups that found nothing usable (or no Redis), by namespace.",
    ["namespace"],
)

# livesum: the sum over the workers alive now; a dead worker's connections are not in use.
DB_POOL_IN_USE = Gauge(
    f"{PREFIX}_db_pool_connections_in_use",
    "Database connections checked out of the pool, by pool (primary, replica).",
    ["pool"],
    multiprocess_mode="livesum",
)

DB_POOL_CAPACITY = Gauge(
    f"{PREFIX}_db_pool_connections_max",
    "Connections the pool may hold at most (size + overflow), by pool: saturation's divisor.",
    ["pool"],
    multiprocess_mode="livesum",
)
# 1 per worker whose breaker is not closed (open, or half-open awaiting a trial call):
# summed, the number of workers answering without Redis.
CACHE_BREAKER_OPEN = Gauge(
    f"{PREFIX}_cache_breaker_open",
    "Workers whose Redis circuit breaker is open or half-open (0: Redis in use everywhere).",
    multiprocess_mode="livesum",
)

# Figures only the database knows, measured by one worker per launcher (ops.probes); the
# other workers keep 0, so the maximum over live workers is the measured value.
LEDGER_MISMATCHED_CARDS = Gauge(
    f"{PREFIX}_ledger_mismatched_cards",
    "Cards whose stored balance differs from their ledger at the last check (expected: 0).",
    multiprocess_mode="livemax",
)
ROLLUP_FOLD_LAG = Gauge(
    f"{PREFIX}_rollup_fold_lag_seconds",
    "How long the oldest tap delta not yet folded into the analytics rollups has waited.",
    multiprocess_mode="livemax",
)
DB_REPLICA_LAG_BYTES = Gauge(
    f"{PREFIX}_db_replica_lag_bytes",
    "WAL bytes the replica has still to replay (0 without a replica or while it is down).",
    multiprocess_mode="livemax",
)
DB_REPLICA_LAG_SECONDS = Gauge(
    f"{PREFIX}_db_replica_lag_seconds",
    "0 when the replica is caught up, else the age of the newest transaction it replayed.",
    multiprocess_mode="livemax",
)
DB_REPLICA_DOWN = Gauge(
    f"{PREFIX}_db_replica_down",
    "1 while the configured replica does not answer (0 when it does, or none is configured).",
    multiprocess_mode="livemax",
)

TAPS = Counter(
    f"{PREFIX}_taps",
    "Taps priced and committed (not replays or double taps), by service and fare kind.",
    ["service_kind", "fare_kind"],
)
FARES_CHARGED = Counter(
    f"{PREFIX}_fares_charged_pesos",
    "Pesos charged by committed taps, by service and fare kind.",
    ["service_kind", "fare_kind"],
)
TRANSFERS = Counter(
    f"{PREFIX}_transfers", "Committed taps priced as a transfer, by service kind.", ["service_kind"]
)
CREDIT_TRIPS = Counter(
    f"{PREFIX}_credit_trips",
    "Committed taps that used a credit trip, by service kind.",
    ["service_kind"],
)
RECHARGES = Counter(
    f"{PREFIX}_recharges", "Recharges committed (not idempotent replays), by channel.", ["channel"]
)
RECHARGED = Counter(
    f"{PREFIX}_recharged_pesos", "Pesos credited by committed recharges, by channel.", ["channel"]
)

M = TypeVar("M", bound=MetricWrapperBase)


class Children(dict[Hashable, M]):
    """A metric's labelled children by label values, kept here for the hot paths.

    `.labels()` takes a lock and rebuilds the label tuple on every call (a few µs); a dict
    lookup costs tens of ns. Label values are bounded (see above), so the dict is too.
    """

    def __init__(self, metric: M) -> None:
        super().__init__()
        self._metric = metric

    def __missing__(self, labels: Hashable) -> M:
        values = labels if isinstance(labels, tuple) else (labels,)
        child = self[labels] = self._metric.labels(*values)
        return child
