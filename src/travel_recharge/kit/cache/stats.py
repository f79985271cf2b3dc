"""What the cache did for this process, by namespace."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from prometheus_client import Counter as PrometheusCounter

from travel_recharge.kit.metrics import CACHE_HITS, CACHE_MISSES, Children


class ExportedCounter(Counter[str]):
    """A Counter whose increases also go to a Prometheus counter labelled by namespace.

    Hits and misses are counted as `stats.hits[group] += 1` wherever a lookup ends (client
    and read-through); mirroring them here exports every one of those places at once, and
    keeps /api/v1/cache/stats and /metrics from disagreeing.
    """

    def __init__(self, metric: PrometheusCounter) -> None:
        super().__init__()
        self._children = Children(metric)

    def __setitem__(self, key: str, value: int) -> None:
        increase = value - self[key]
        super().__setitem__(key, value)
        if increase > 0:
            self._children[key].inc(increase)

    # Copies and pickles are plain Counters: exporting is the process' stats' job alone
    # (and Counter's own copy would call __init__ with the wrong argument).
    def copy(self) -> Counter[str]:  # type: ignore[override]
        return Counter(self)

    def __reduce__(self) -> tuple[type[Counter[str]], tuple[dict[str, int]]]:
        return Counter, (dict(self),)


@dataclass
class CacheStats:
    """This process' cache outcomes by namespace (the first segment of a group or key name).

    Every read-through lookup is one hit or one miss. A miss is then resolved one way:
    `computed` (this process ran the loader; `wait_timeouts` of those gave up waiting for
    another worker first), `waited` (another worker's fill arrived), `served_stale` (the
    expired previous value, for views that accept it) or `coalesced` (shared a load already
    running in this process).
    """

    hits: Counter[str] = field(default_factory=Counter)
    misses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    skipped_open_circuit: int = 0
    computed: Counter[str] = field(default_factory=Counter)
    waited: Counter[str] = field(default_factory=Counter)
    served_stale: Counter[str] = field(default_factory=Counter)
    coalesced: Counter[str] = field(default_factory=Counter)
    wait_timeouts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def exported(cls) -> CacheStats:
        """The process' own stats, whose hits and misses also go to /metrics (scoped stats
        of an isolated block, such as the performance test's, do not)."""
        return cls(hits=ExportedCounter(CACHE_HITS), misses=ExportedCounter(CACHE_MISSES))

    def groups(self) -> list[str]:
        """Every namespace with at least one outcome, sorted."""
        counters = (
            self.hits,
            self.misses,
            self.computed,
            self.waited,
            self.served_stale,
            self.coalesced,
            self.wait_timeouts,
        )
        return sorted(set[str]().union(*counters))
