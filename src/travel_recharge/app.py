"""create_app(): the ASGI application. Nothing connects at import time; the lifespan does."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from travel_recharge.accounts.revocations import service as revocations
from travel_recharge.accounts.revocations.router import router as revocations_router
from travel_recharge.accounts.router import router as auth_router
from travel_recharge.adjustments.router import router as adjustments_router
from travel_recharge.analytics.flows.router import router as flows_router
from travel_recharge.analytics.flows.service import infer_forever
from travel_recharge.analytics.folder import fold_forever
from travel_recharge.analytics.forecast.router import router as forecast_router
from travel_recharge.analytics.forecast.service import refit_forever
from travel_recharge.analytics.live.router import router as live_router
from travel_recharge.analytics.riders.router import router as riders_router
from travel_recharge.analytics.router import router as analytics_router
from travel_recharge.analytics.stations.router import router as stations_router
from travel_recharge.cards import direct as cards_direct
from travel_recharge.cards.deny_list.router import router as deny_list_router
from travel_recharge.cards.router import RECHARGE_PATH
from travel_recharge.cards.router import router as cards_router
from travel_recharge.cards.web_recharges import service as web_recharges
from travel_recharge.cards.web_recharges.router import router as web_recharges_router
from travel_recharge.fares.router import router as fares_router
from travel_recharge.finance.router import router as finance_router
from travel_recharge.kit.cache import Cache
from travel_recharge.kit.clock import Clock, utc_now
from travel_recharge.kit.compression import Compression
from travel_recharge.kit.config import Settings, get_settings
from travel_recharge.kit.db import Database
from travel_recharge.kit.db_http import document_database_unavailable
from travel_recharge.kit.direct import DirectRoutes, direct_routes
from travel_recharge.kit.errors import install_error_handlers
from travel_recharge.kit.hardening import install_hardening
from travel_recharge.kit.logs import configure_logging, log_event
from travel_recharge.kit.replay.layer import ReplayLayer
from travel_recharge.kit.storable_text import state_storable_text
from travel_recharge.kit.views import read_paths
from travel_recharge.network.alerts.router import operator_router as alerts_router
from travel_recharge.network.realtime.router import router as gtfs_rt_router
from travel_recharge.network.router import router as network_router
from travel_recharge.observability.middleware import HttpMetrics
from travel_recharge.observability.router import router as metrics_router
from travel_recharge.observability.summary.router import router as metrics_summary_router
from travel_recharge.ops.cache.router import router as cache_router
from travel_recharge.ops.probes import probe_forever
from travel_recharge.ops.router import router as health_router
from travel_recharge.ops.service import VERSION
from travel_recharge.security.edge_gate import EdgeGate
from travel_recharge.security.keys import signing_key
from travel_recharge.security.rate_limit import RateLimiter, limits_from
from travel_recharge.security.routes import secure_routes
from travel_recharge.security.tokens import TokenSigner
from travel_recharge.simulator.router import router as simulator_router
from travel_recharge.simulator.service import Simulator
from travel_recharge.trips import direct as trips_direct
from travel_recharge.trips.batches.router import router as batches_router
from travel_recharge.trips.router import TAP_PATH
from travel_recharge.trips.router import router as trips_router
from travel_recharge.users.router import router as users_router
from travel_recharge.web.docs import install_docs
from travel_recharge.web.router import router as web_router
from travel_recharge.web.router import static_files

logger = logging.getLogger("travel_recharge.app")

# The hot writes, answered without FastAPI's routing and dependency solving (kit.direct).
DIRECT_HANDLERS = {
    ("POST", TAP_PATH): trips_direct.start_trip,
    ("POST", RECHARGE_PATH): cards_direct.recharge_card,
}

DESCRIPTION = (
    "Backend of a city's transit smart card: cards, recharges, taps priced by the fare policy, "
    "an exact ledger, the network, analytics and a Redis cache. "
    'Errors are JSON objects {"error": code, "detail": message}. '
    "Integers (pesos, ids) are written without a fraction or an exponent: 100.0 is refused "
    "(422 naming the field), as money is never a float."
)


def install_document_rules(app: FastAPI) -> None:
    """The OpenAPI document also states the rules enforced for every route at once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            state_storable_text(FastAPI.openapi(app))  # builds and keeps app.openapi_schema
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, clock: Clock = utc_now) -> FastAPI:
    """The app; `clock` is the time its time-of-day views are computed at (tests pin it)."""
    settings = settings or get_settings()
    # Configuration mistakes stop the start here, not at the first request.
    token_signer = TokenSigner(
        signing_key(settings),
        settings.auth_issuer,
        settings.auth_audience,
        settings.auth_token_ttl_s,
    )
    limits = limits_from(settings.rate_limits_enabled, settings.rate_limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.logs_as_json)
        app.state.database = Database.from_settings(settings)
        app.state.cache = Cache.from_settings(settings)
        app.state.read_paths = read_paths(
            app.state.database.read_sessions,
            app.state.database.write_sessions,
            app.state.cache,
            settings,
            clock,
        )
        app.state.rate_limiter = RateLimiter(app.state.cache, limits)
        app.state.edge_gate = EdgeGate(token_signer, app.state.rate_limiter)
        app.state.simulator = Simulator(
            settings, app.state.database, app.state.cache, token_signer, app.state.rate_limiter
        )
        folder = (
            asyncio.create_task(fold_forever(app.state.database, settings.rollup_fold_interval_s))
            if settings.rollup_fold_interval_s > 0
            else None
        )
        forecaster = (
            asyncio.create_task(refit_forever(app.state.database, settings))
            if settings.forecast_check_interval_s > 0
            else None
        )
        flow_counter = (
            asyncio.create_task(infer_forever(app.state.database, settings))
            if settings.flows_check_interval_s > 0
            else None
        )
        prober = (
            asyncio.create_task(probe_forever(app.state.database, settings))
            if settings.metrics_probe_interval_s > 0
            else None
        )
        web_recharge_sweeper = (
            asyncio.create_task(
                web_recharges.expire_forever(
                    app.state.database, app.state.cache, settings.web_recharge_sweep_s
                )
            )
            if settings.web_recharge_sweep_s > 0
            else None
        )
        revocation_loader = None
        if settings.revocation_refresh_s > 0:
            # Loaded before the first request: a worker starting never admits a revoked token
            # (unless PostgreSQL is down now: then from its first load that succeeds).
            sessions = revocations.load_sessions(app.state.database)
            await revocations.load_now(sessions, token_signer)
            revocation_loader = asyncio.create_task(
                revocations.load_forever(sessions, token_signer, settings.revocation_refresh_s)
            )
        log_event(
            logger, "service.started", env=settings.env, replica=bool(settings.database_replica_url)
        )
        # Everything start-up made (modules, the app, its routes and reference data) lives as
        # long as the worker. Frozen, it is out of the cyclic collector's reach: a full
        # collection then scans only what requests made, instead of stopping every request in
        # flight for the ~40-80 ms a scan of the ~140,000 start-up objects takes.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            # First: a running simulation still needs the database and Redis to end cleanly.
            await app.state.simulator.shutdown()
            tasks = (
                folder,
                forecaster,
                flow_counter,
                prober,
                revocation_loader,
                web_recharge_sweeper,
            )
            for task in tasks:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await app.state.cache.close()
            await app.state.database.dispose()
            log_event(logger, "service.stopped")

    app = FastAPI(
        title="Travel Recharge",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by web.docs from the package's own bundles, not FastAPI's CDN.
        docs_url=None,
        redoc_url=None,
        # Metrics are Prometheus' (observability); FastAPI's OpenTelemetry bridge otherwise
        # asks on every request whether a provider was configured (~15 µs a request).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.token_signer = token_signer
    install_error_handlers(app)
    for router in (
        health_router,
        auth_router,
        revocations_router,
        fares_router,
        users_router,
        cards_router,
        deny_list_router,
        web_recharges_router,
        trips_router,
        batches_router,
        finance_router,
        adjustments_router,
        analytics_router,
        live_router,
        forecast_router,
        stations_router,
        flows_router,
        riders_router,
        network_router,
        alerts_router,
        gtfs_rt_router,
        cache_router,
        simulator_router,
        metrics_router,
        metrics_summary_router,
        web_router,
    ):
        app.include_router(router)
    # Innermost: a replayed answer still passes gzip and the edge (request id, headers,
    # metrics).
    app.add_middleware(ReplayLayer, lifetime_s=settings.answer_replay_s)
    # Level 6, not Starlette's 9: on the 370 kB station identifiers it takes ~4 ms instead of
    # ~17 ms of CPU per answer for a 7% larger result. Below 1 kB gzip saves little.
    app.add_middleware(Compression, minimum_size=1000, compresslevel=6)
    if settings.direct_routes:
        # Outside gzip (the answers of taps and recharges are far below its 1 kB), inside
        # the edge and CORS: the hot writes' direct routes (kit.direct).
        app.add_middleware(DirectRoutes, routes=direct_routes(app.router.routes, DIRECT_HANDLERS))
    install_hardening(app, settings, observe=HttpMetrics().record)
    app.mount("/static", static_files(), name="static")
    install_docs(app)
    install_document_rules(app)
    # Every route that reaches the database may answer its 503 (kit.db_http).
    document_database_unavailable(app)
    # Every route must say who may call it (security.access), or the app does not start.
    app.state.access_rules = secure_routes(
        app, limited_groups=[group for group, rules in limits.items() if rules]
    )
    return app
