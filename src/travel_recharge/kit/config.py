"""Settings: the only reader of the environment (prefix TR_)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service configuration; every value can be set as TR_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="TR_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"

    # Infrastructure. When a URL is missing, `serve` starts the embedded server under data_dir.
    database_url: str | None = None
    database_replica_url: str | None = None
    # The schema owner, for `migrate`, `serve --migrate`, `seed` and `db grant`; the workers
    # use database_url, which should be a role without DDL rights (migrations.grants).
    # None: database_url does both (one role for everything, as before).
    database_migration_url: str | None = None
    redis_url: str | None = None
    # High availability (see the README's "Running on several machines"): the Sentinels that
    # know the Redis master, as a JSON list of "host:port" (e.g. '["10.0.2.1:26379", ...]'),
    # and the name they know it by. When set, the cache follows a failover by itself and
    # redis_url is not used; empty: redis_url, as on one machine.
    redis_sentinels: list[str] = Field(default_factory=list)
    redis_master_name: str = Field(default="travel-recharge", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    data_dir: Path = Path(".data")
    # The embedded Valkey evicts cache keys past this (never the rate limiter's state).
    embedded_valkey_maxmemory_mb: int = Field(default=256, ge=8, le=1_048_576)

    # Serving.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # Prometheus: each launcher gives its workers <metrics_dir>/<launcher pid> as
    # PROMETHEUS_MULTIPROC_DIR for their metric files; None: <data_dir>/metrics.
    metrics_dir: Path | None = None
    # The database figures the alert rules watch (ops.probes): replica lag and rollup lag
    # this often, the ledger check (a read of the whole ledger) less often. 0: never.
    metrics_probe_interval_s: float = Field(default=15.0, ge=0)
    ledger_check_interval_s: float = Field(default=300.0, ge=0)

    # Database pool per worker process; the statement timeout bounds any runaway query.
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    db_health_timeout_s: float = Field(default=1.0, gt=0)
    # A write whose outcome is unknown (the connection to the primary died at commit, or no
    # primary answers during a failover) is a 503 telling the client to retry this many
    # seconds later with the same Idempotency-Key or tap_id.
    db_unavailable_retry_after_s: int = Field(default=1, ge=1, le=60)
    # A replica that does not answer within the connect timeout sends the reads to the
    # primary for db_replica_down_s; then one read tries it again (kit.db_replica).
    db_replica_connect_timeout_s: float = Field(default=1.0, gt=0)
    db_replica_down_s: float = Field(default=5.0, gt=0)

    # Redis is an accelerator: short timeouts and a circuit breaker keep a sick Redis
    # from slowing down answers that PostgreSQL can give on its own.
    cache_namespace: str = Field(default="tr", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    redis_connect_timeout_s: float = Field(default=0.25, gt=0)
    redis_socket_timeout_s: float = Field(default=0.25, gt=0)
    redis_breaker_failures: int = Field(default=3, ge=1)
    redis_breaker_reset_s: float = Field(default=5.0, gt=0)
    # Stampede protection (Cache.read_through): of the callers missing one view, the holder
    # of a lock (expiring after cache_lock_ttl_ms, so a crashed holder blocks nobody) computes
    # it; the others wait for its fill at most cache_fill_wait_ms, then compute it themselves.
    cache_lock_ttl_ms: int = Field(default=3_000, ge=10)
    cache_fill_wait_ms: int = Field(default=200, ge=0, le=5_000)
    # Views that accept TTL-bounded staleness (never card views) keep an expired value this
    # long, served while one caller recomputes it: their freshness bound is TTL + this grace.
    cache_stale_grace_s: int = Field(default=30, ge=0)
    # A GET the route answered with a cached view's bytes is answered at the edge from Redis
    # for this long (kit.replay): same access rule, rate limit and freshness, without routing
    # or a database session. A view chosen by the time of day may lag the clock by this much.
    # 0: every request runs its route.
    answer_replay_s: float = Field(default=1.0, ge=0, le=60)
    # The hot writes (taps, recharges) answered by their direct routes (kit.direct), without
    # FastAPI's routing and dependency solving; false: by their FastAPI routes, as any other.
    direct_routes: bool = True

    # Cache lifetimes (seconds), the seed's TTLs. Card views are also invalidated after every
    # write, so their TTL only bounds memory; the others bound how stale a total can be.
    cache_ttl_card_s: int = Field(default=300, ge=1)
    cache_ttl_fares_s: int = Field(default=300, ge=1)
    # Network views. Stations, routes and recharge points change only when the network is
    # reloaded, so these TTLs bound staleness after a reload (and the HTTP max-age of their
    # ETagged answers). Alert views are also invalidated after every alert write; arrivals
    # are cached per minute.
    cache_ttl_stations_s: int = Field(default=60, ge=1)  # the paginated station list
    cache_ttl_station_reference_s: int = Field(default=300, ge=1)  # identifiers, details
    cache_ttl_routes_s: int = Field(default=300, ge=1)  # route codes and details
    cache_ttl_arrivals_s: int = Field(default=60, ge=1)
    cache_ttl_alerts_s: int = Field(default=60, ge=1)
    cache_ttl_recharge_points_s: int = Field(default=300, ge=1)
    # The GTFS-Realtime trip updates feed lists the calls expected within this many minutes;
    # the whole network's feed grows with it (30: ~60,000 calls, ~2 MB, at a peak hour).
    gtfs_rt_horizon_minutes: int = Field(default=30, ge=1, le=240)
    # Analytics come from rollups; a cached figure is at most this old.
    cache_ttl_users_count_s: int = Field(default=300, ge=1)
    cache_ttl_users_active_s: int = Field(default=60, ge=1)
    cache_ttl_users_latest_s: int = Field(default=120, ge=1)
    cache_ttl_totals_s: int = Field(default=300, ge=1)
    # The live dashboard (polled every 5 s); its count of today's distinct cards scans all
    # of today's trips (~0.3 s at 1M taps), so it is cached apart, for longer.
    cache_ttl_live_s: int = Field(default=5, ge=1)
    cache_ttl_live_active_cards_s: int = Field(default=60, ge=1)
    # Taps reach the analytics rollups through deltas folded this often (0: never, for tools).
    rollup_fold_interval_s: float = Field(default=1.0, ge=0)
    # The revenue forecast is refitted when its answer is older than forecast_refit_s; each
    # worker looks this often (0: never, for tools and tests) and starts the fitting job.
    forecast_check_interval_s: float = Field(default=300.0, ge=0)
    forecast_refit_s: int = Field(default=3600, ge=60)
    cache_ttl_forecast_s: int = Field(default=60, ge=1)
    cache_ttl_station_performance_s: int = Field(default=60, ge=1)
    # Trip flows: finished days are counted by a job each worker starts when one is due (it
    # looks this often; 0: never); a destination is inferred only within this walk of the
    # next boarding. The counts change once a day, so their answers are cached longer.
    flows_check_interval_s: float = Field(default=300.0, ge=0)
    flows_max_walk_m: float = Field(default=1000.0, gt=0, le=5000)
    cache_ttl_flows_s: int = Field(default=300, ge=1)

    # Money path.
    timezone: str = "America/Bogota"  # monthly benefit trips follow the city's calendar
    double_tap_window_s: int = Field(default=60, ge=0)
    tap_future_tolerance_s: int = Field(default=300, ge=0)
    # How long a validator may hold taps while offline before they reach the service: an older
    # tap is refused (422), so a device cannot backdate taps into an older, cheaper fare. The
    # field devices' offline batches are bounded by the same window.
    tap_offline_window_s: int = Field(default=3 * 86_400, ge=60)

    # Security. Tokens are HS256 JWTs signed with auth_signing_key; in production the service
    # refuses to start without a strong one (security.keys). Elsewhere a missing key is
    # generated by the launcher and handed to its workers.
    auth_signing_key: SecretStr | None = None
    auth_token_ttl_s: int = Field(default=900, ge=30, le=86_400)
    auth_issuer: str = "travel-recharge"
    auth_audience: str = "travel-recharge-api"
    # How often each worker loads the revoked tokens in force (accounts.revocations); a
    # revocation holds on the worker that made it at once, on the others within this.
    # 0: never (tests that load by hand).
    revocation_refresh_s: float = Field(default=1.0, ge=0, le=60)
    # Requests per principal (or per attempted username on the token endpoint) and per client
    # IP, per route group, e.g. TR_RATE_LIMITS='{"taps": {"principal": "600/minute"}}'.
    # Groups not named keep their defaults (security.rate_limit.DEFAULT_LIMITS).
    rate_limits_enabled: bool = True
    rate_limits: dict[str, dict[Literal["principal", "ip"], str]] = Field(default_factory=dict)
    # The load balancers in front of the service, as a JSON list of addresses or CIDR networks
    # (e.g. '["10.0.0.2", "10.0.1.0/24"]'). Only a connection from one of them may say who the
    # client is (X-Forwarded-For, X-Forwarded-Proto); empty: no one may, and the address a
    # request comes from is its client's, loopback included.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Hardening: bodies larger than this are refused with 413 before they are read whole;
    # browsers from these origins may call the API (empty: no cross-origin access). The
    # largest body a client sends is an offline batch of 500 taps: ~70 kB, ~90 kB with
    # spaces; the bound leaves it room.
    max_body_bytes: int = Field(default=131_072, ge=1_024, le=16_777_216)
    cors_allow_origins: list[str] = Field(default_factory=list)

    # The deny list validators download (cards.deny_list): a validator more than this many
    # changes behind gets the whole list instead of the changes, which would be longer.
    deny_list_max_changes: int = Field(default=5_000, ge=1, le=1_000_000)
    # The largest refund or correction an operator may propose, either way (pesos): the
    # largest recharge, so one adjustment undoes any one recharge.
    adjustment_max_amount: int = Field(default=200_000, ge=1, le=1_000_000_000)
    # A web recharge not posted (the card not read at a station) within this many days
    # expires and is refunded to the payer; each worker looks for those due this often
    # (0: never, for tests that sweep by hand).
    web_recharge_expiry_days: int = Field(default=30, ge=1, le=365)
    web_recharge_sweep_s: float = Field(default=60.0, ge=0, le=3600)

    # Traffic simulator. It drives the API over HTTP at self_url, the address this service
    # is reached at from its own workers (`serve` sets it for them; None: it cannot run).
    # It may start only where simulator_enabled allows (None: everywhere but production,
    # where simulated money has no place unless someone decides otherwise). Its lease in
    # Redis lapses this long after its runner stops refreshing it (a dead worker), and its
    # riders are this many cards of its own (made on the first start, then reused).
    self_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    simulator_enabled: bool | None = None
    simulator_lease_ttl_s: int = Field(default=5, ge=2, le=60)
    simulator_riders: int = Field(default=500, ge=1, le=5_000)

    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON in production, key=value lines elsewhere

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, proxies: list[str]) -> list[str]:
        # Written out canonically: uvicorn takes "10.0.1.7/24" (host bits set) or a misspelt
        # address as a literal name that never matches, silently trusting no one there.
        networks = []
        for proxy in proxies:
            try:
                networks.append(str(ipaddress.ip_network(proxy.strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(f"{proxy!r} is not an IP address or CIDR network") from exc
        return networks

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_addresses(cls, sentinels: list[str]) -> list[str]:
        for sentinel in sentinels:
            host, _, port = sentinel.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{sentinel!r} is not host:port")
        return sentinels

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """The Sentinels as (host, port) pairs, as redis-py takes them."""
        pairs = [sentinel.rpartition(":") for sentinel in self.redis_sentinels]
        return [(host.strip("[]"), int(port)) for host, _, port in pairs]

    @property
    def migration_url(self) -> str | None:
        """The URL of the role that owns the schema: the migration URL, else the service's."""
        return self.database_migration_url or self.database_url

    @property
    def logs_as_json(self) -> bool:
        return self.env == "production" if self.log_json is None else self.log_json

    @property
    def simulator_allowed(self) -> bool:
        """Whether the traffic simulator may start here."""
        if self.simulator_enabled is None:
            return self.env != "production"
        return self.simulator_enabled


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (workers inherit the launcher's environment)."""
    return Settings()


async def settings_of(request: Request) -> Settings:
    """The settings the running app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(settings_of)]
