"""The circuit breaker that keeps a sick Redis from slowing down answers."""

from __future__ import annotations

import time
from collections.abc import Callable


class CacheUnavailable(Exception):
    """Redis could not be asked (breaker open, timeout, connection error)."""


class CircuitBreaker:
    """Stops calling Redis after `failures` consecutive errors, for `reset_s` seconds.

    After the pause one trial call goes through (half-open); its success closes the breaker.
    The breaker is per worker process: each process learns Redis' health on its own.
    """

    def __init__(
        self,
        failures: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._threshold = failures
        self._reset_s = reset_s
        self._clock = clock
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        # Told True when the breaker opens and False when it closes again (the metric);
        # only on a change, not on every call that reaches Redis.
        self._on_change = on_change

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self._reset_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        self._consecutive_failures = 0
        if self._opened_at is not None:
            self._opened_at = None
            self._notify(False)

    def record_failure(self) -> None:
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._threshold or self._opened_at is not None:
            if self._opened_at is None:
                self._notify(True)
            self._opened_at = self._clock()

    def _notify(self, is_open: bool) -> None:
        if self._on_change is not None:
            self._on_change(is_open)
