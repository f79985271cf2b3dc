"""What the cache did for this process, by namespace."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


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
