"""The back office: an analyst reading figures and analytics, an admin watching the service."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from api import (
    CACHE_HEALTH,
    CACHE_KEYS,
    CACHE_STATS,
    HEALTH,
    HEALTH_CACHE,
    HEALTH_DB,
    REVENUE,
    REVENUE_BY_DAY,
    REVENUE_LOCALITIES,
    SHARES,
    TOKEN,
    TOP_STATIONS,
    TRIPS_BY_HOUR,
    TRIPS_LOCALITIES,
    TRIPS_TOTAL,
    USERS_ACTIVE,
    USERS_COUNT,
    USERS_LATEST,
)
from locust import task
from persona import Persona

BOGOTA = ZoneInfo("America/Bogota")


class DataAnalyst(Persona):
    """An analyst reading users, trips and finance figures and the date-range analytics."""

    weight = 11
    pause_s = (2.0, 6.0)
    endpoints = (
        TOKEN,
        USERS_COUNT,
        USERS_ACTIVE,
        USERS_LATEST,
        TRIPS_TOTAL,
        TRIPS_LOCALITIES,
        REVENUE,
        REVENUE_LOCALITIES,
        TRIPS_BY_HOUR,
        REVENUE_BY_DAY,
        TOP_STATIONS,
        SHARES,
    )

    def on_start(self) -> None:
        super().on_start()
        self.account = self.shared.next_account("analyst", self.shared.analysts)

    def _read(
        self, path: str, query: dict[str, str | int] | None = None, ok: tuple[int, ...] = (200,)
    ) -> None:
        url = f"{path}?{urlencode(query)}" if query else path
        self.read(url, path, self.bearer(self.account), ok)

    @staticmethod
    def _days() -> dict[str, str | int]:
        """A range of Bogotá days ending today (the default is the last 30)."""
        today = datetime.now(BOGOTA).date()
        days = random.choice((7, 14, 30))
        return {"date_from": (today - timedelta(days=days - 1)).isoformat(), "date_to": str(today)}

    @task(2)
    def users_count(self) -> None:
        self._read(USERS_COUNT)

    @task(2)
    def active_users(self) -> None:
        self._read(USERS_ACTIVE)

    @task(1)
    def latest_user(self) -> None:
        self._read(USERS_LATEST, ok=(200, 204))  # 204: no rider yet

    @task(2)
    def trips_total(self) -> None:
        self._read(TRIPS_TOTAL)

    @task(2)
    def trips_by_locality(self) -> None:
        self._read(TRIPS_LOCALITIES)

    @task(2)
    def revenue(self) -> None:
        self._read(REVENUE)

    @task(2)
    def revenue_by_locality(self) -> None:
        self._read(REVENUE_LOCALITIES)

    @task(2)
    def trips_by_hour(self) -> None:
        self._read(TRIPS_BY_HOUR, self._days())

    @task(2)
    def revenue_by_day(self) -> None:
        self._read(REVENUE_BY_DAY, self._days())

    @task(2)
    def top_stations(self) -> None:
        self._read(TOP_STATIONS, self._days() | {"limit": 10})

    @task(2)
    def shares(self) -> None:
        self._read(SHARES, self._days())


class Admin(Persona):
    """An admin watching the cache and the health of the service."""

    weight = 6
    pause_s = (3.0, 8.0)
    # TOKEN: unless the run was given a ready admin token.
    endpoints = (TOKEN, CACHE_STATS, CACHE_HEALTH, CACHE_KEYS, HEALTH, HEALTH_DB, HEALTH_CACHE)

    def _admin(self) -> dict[str, str]:
        admin = self.shared.admin
        # Signed in like everyone else, unless the run was given a ready token.
        return admin.header() if admin.account is None else self.bearer(admin.account)

    @task(4)
    def cache_stats(self) -> None:
        self.read(CACHE_STATS, CACHE_STATS, self._admin())

    @task(2)
    def cache_health(self) -> None:
        self.read(CACHE_HEALTH, CACHE_HEALTH, self._admin())

    @task(1)
    def cache_keys(self) -> None:
        self.read(f"{CACHE_KEYS}?limit=50", CACHE_KEYS, self._admin())

    @task(3)
    def health(self) -> None:
        self.read(HEALTH, HEALTH)

    @task(2)
    def database_health(self) -> None:
        self.read(HEALTH_DB, HEALTH_DB)

    @task(2)
    def cache_health_check(self) -> None:
        self.read(HEALTH_CACHE, HEALTH_CACHE)
