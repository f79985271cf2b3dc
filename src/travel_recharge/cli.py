"""The `travel-recharge` command: serve, migrate, seed, network, ledger, bench, simulate, export."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import ValidationError

from travel_recharge.accounts import service as accounts
from travel_recharge.accounts.demo import DemoCredentials, describe, ensure_demo_accounts
from travel_recharge.accounts.schemas import AccountCreate, AccountCreated
from travel_recharge.cluster.cli import add_cluster_parser
from travel_recharge.export_cli import add_export_parser
from travel_recharge.finance.schemas import LedgerVerification
from travel_recharge.finance.service import verify_ledger
from travel_recharge.kit.audit import SystemActor
from travel_recharge.kit.config import Settings, get_settings
from travel_recharge.kit.db import Database
from travel_recharge.kit.embedded import APP_ROLE, EmbeddedError, EmbeddedServers, start_embedded
from travel_recharge.kit.errors import AppError
from travel_recharge.kit.logs import configure_logging, log_event
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.migrations.grants import RoleProblem, grant_service_role, role_of
from travel_recharge.observability.launcher import prepare_metrics_dir
from travel_recharge.security.access import TOKEN_PATH
from travel_recharge.security.keys import WeakSigningKey, new_signing_key, signing_key
from travel_recharge.security.roles import Role

logger = logging.getLogger("travel_recharge.cli")
T = TypeVar("T")


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM becomes SystemExit so `finally` blocks stop what the launcher started.
    raise SystemExit(128 + signum)


@contextmanager
def infrastructure(settings: Settings) -> Iterator[Settings]:
    """Settings whose database and Redis URLs point at running servers.

    Configured URLs are used as they are (production); a missing one is served by the
    embedded server, started here and stopped on exit (Ctrl-C, SIGTERM or an error). The
    embedded database is used by the service as APP_ROLE (no DDL rights), and by the
    launcher's own tools (migrations, seeding) as its owner, the migration URL.

    Redis is configured by TR_REDIS_URL or by TR_REDIS_SENTINELS: with Sentinels no Valkey
    is started. Sentinels without TR_DATABASE_URL are refused: a node of a cluster serving
    from a database of its own would keep a ledger no other node sees.
    """
    if settings.database_url and _redis_configured(settings):
        yield settings
        return
    if settings.redis_sentinels:
        raise EmbeddedError(
            "TR_REDIS_SENTINELS is set but TR_DATABASE_URL is not: a node that shares its "
            "Redis through Sentinels must share its database too; set TR_DATABASE_URL"
        )
    servers: EmbeddedServers | None = None
    try:
        servers = start_embedded(
            settings.data_dir, valkey_maxmemory_mb=settings.embedded_valkey_maxmemory_mb
        )
        redis_url = settings.redis_url or servers.redis_url
        urls = {"redis_url": redis_url}
        if settings.database_url:
            database_url = settings.database_url
        else:
            # Created (or brought up to date) before anything connects with it.
            grant_service_role(servers.database_url, APP_ROLE, create=True)
            database_url = servers.app_database_url
            urls["database_migration_url"] = servers.database_url
        urls["database_url"] = database_url
        # Workers are separate processes: they learn the URLs from the environment (never
        # the owner's: they do not need it).
        os.environ["TR_DATABASE_URL"] = database_url
        os.environ["TR_REDIS_URL"] = redis_url
        get_settings.cache_clear()
        yield settings.model_copy(update=urls)
    finally:
        if servers is not None:
            servers.stop()


def _redis_configured(settings: Settings) -> bool:
    return bool(settings.redis_url or settings.redis_sentinels)


def _shared_signing_key(settings: Settings) -> Settings:
    """Settings with a signing key every worker shares; WeakSigningKey in production."""
    signing_key(settings)  # refuses a missing or weak key in production
    if settings.auth_signing_key is not None:
        return settings
    # Generated once here and handed down: a token from one worker is good at the others.
    # Tokens do not survive a restart, which is fine for the short-lived ones we issue.
    os.environ["TR_AUTH_SIGNING_KEY"] = new_signing_key()
    get_settings.cache_clear()
    return get_settings()


async def _demo_accounts(settings: Settings, token_url: str) -> DemoCredentials:
    database = Database.from_settings(settings)
    try:
        return await ensure_demo_accounts(database, settings.data_dir, token_url)
    finally:
        await database.dispose()


def cmd_serve(args: argparse.Namespace) -> int:
    from travel_recharge.kit.serving import SERVER_OPTIONS, PortTaken, serve

    try:
        settings = _shared_signing_key(get_settings())
    except WeakSigningKey as exc:
        print(f"travel-recharge serve: {exc}", file=sys.stderr)
        return 2
    embedded = not (settings.database_url and _redis_configured(settings))
    host, port = args.host or settings.host, args.port or settings.port
    if not settings.self_url:
        # Workers send the simulator's traffic to themselves: they learn where from here.
        os.environ["TR_SELF_URL"] = serving_url(host, port)
        get_settings.cache_clear()
    with infrastructure(settings) as ready:
        # The launcher that owns the embedded database keeps its schema current; a
        # production deploy runs `travel-recharge migrate` as its release step.
        if embedded or args.migrate:
            try:
                migrate(ready)
            except RoleProblem as exc:
                print(f"travel-recharge serve: {exc}", file=sys.stderr)
                return 2
        if embedded:
            from travel_recharge.seed.load import seed_demo_if_empty

            # A fresh machine starts with the network and a small demo dataset to look at.
            seed_demo_if_empty(ready.migration_url or "", _today(ready), ready.timezone)
            token_url = f"http://{host}:{port}{TOKEN_PATH}"
            print(describe(asyncio.run(_demo_accounts(ready, token_url))), flush=True)
        # The workers get the service's URL only, never the schema owner's.
        os.environ.pop("TR_DATABASE_MIGRATION_URL", None)
        get_settings.cache_clear()
        # Before the workers start: each writes its metric files there for /metrics to sum.
        prepare_metrics_dir(ready)
        print(
            f"travel-recharge: open {serving_url(host, port)}/ (the pages, the API "
            "documents and the health are linked there)",
            flush=True,
        )
        try:
            serve(
                "travel_recharge.app:create_app",
                factory=True,
                host=host,
                port=port,
                workers=args.workers or settings.workers,
                log_config=None,
                timeout_graceful_shutdown=10,
                **SERVER_OPTIONS,
                **proxy_options(settings),
            )
        except PortTaken as exc:
            print(f"travel-recharge serve: {exc}", file=sys.stderr)
            return 2
    return 0


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy settings, from TR_TRUSTED_PROXIES alone.

    Always passed: left out, uvicorn believes X-Forwarded-For from 127.0.0.1 and ::1 (or from
    its own FORWARDED_ALLOW_IPS), so anyone on the machine, or a local proxy that forwards
    the header as the client sent it, could pick the address every rate limit counts by."""
    if os.environ.get("FORWARDED_ALLOW_IPS") and not settings.trusted_proxies:
        log_event(
            logger, "serve.forwarded_allow_ips_ignored", logging.WARNING, use="TR_TRUSTED_PROXIES"
        )
    return {
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
    }


def serving_url(host: str, port: int) -> str:
    """The URL a worker reaches this server at: loopback when it listens there or everywhere."""
    if host in ("0.0.0.0", "::", "127.0.0.1", "localhost", ""):
        return f"http://127.0.0.1:{port}"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def cmd_simulate(args: argparse.Namespace) -> int:
    """Exit 0 when the run finished; 1 when it ended early; 2 when refused; 130 on Ctrl-C."""
    from travel_recharge.accounts.demo import CREDENTIALS_FILE
    from travel_recharge.simulator.remote import RemoteOptions, run_remote

    settings = get_settings()
    options = RemoteOptions(
        url=args.url or settings.self_url or serving_url(settings.host, settings.port),
        rate=args.rate,
        minutes=args.minutes,
        login=args.login,
        secret=args.secret,
        credentials=Path(args.credentials or settings.data_dir / CREDENTIALS_FILE),
        every_s=args.every,
    )
    return run_remote(options)


def migrate(ready: Settings) -> None:
    """Upgrade the schema as its owner; then, when the service connects as another role,
    grant that role what it needs (tables of this upgrade included)."""
    owner = ready.migration_url or ""
    upgrade_to_head(owner)
    role = role_of(ready.database_url) if ready.database_url else None
    granted = role if role and role != role_of(owner) else None
    if granted:
        grant_service_role(owner, granted)
    log_event(logger, "migrations.applied", granted_role=granted)


def cmd_migrate(_: argparse.Namespace) -> int:
    """Exit 0 when the schema is current; 2 when the service's role cannot be granted."""
    with infrastructure(get_settings()) as ready:
        try:
            migrate(ready)
        except RoleProblem as exc:
            print(f"travel-recharge migrate: {exc}", file=sys.stderr)
            return 2
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    """Fit the revenue forecast now if it is due (or `--force`) and store it."""
    from travel_recharge.analytics.forecast.job import fit

    with infrastructure(get_settings()) as ready:
        outcome = asyncio.run(fit(ready, datetime.now(UTC), force=args.force))
    print(f"forecast: {outcome}", flush=True)
    return 0


def cmd_flows(args: argparse.Namespace) -> int:
    """Count the finished days' trip flows (origin-destination, transfers) that are due."""
    from travel_recharge.analytics.flows.job import infer

    with infrastructure(get_settings()) as ready:
        outcome = asyncio.run(infer(ready, datetime.now(UTC)))
    print(f"flows: {outcome}", flush=True)
    return 0


def cmd_db_grant(args: argparse.Namespace) -> int:
    """Exit 0 when the role may now serve; 2 when it is missing, a superuser or misnamed."""
    with infrastructure(get_settings()) as ready:
        try:
            grant_service_role(ready.migration_url or "", args.role)
        except RoleProblem as exc:
            print(f"travel-recharge db grant: {exc}", file=sys.stderr)
            return 2
    log_event(logger, "database.role_granted", role=args.role)
    return 0


def _today(settings: Settings) -> date:
    """The city's current date: the seed's default anchor (its data ends the day before)."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def cmd_seed(args: argparse.Namespace) -> int:
    """Exit 0 when seeded; 2, changing nothing, when the database already has riders and
    --reset is missing or the options cannot be seeded."""
    from travel_recharge.seed.load import SeedRefused, seed
    from travel_recharge.seed.options import SeedOptions

    settings = get_settings()
    with infrastructure(settings) as ready:
        try:
            options = SeedOptions(
                users=args.users,
                days=args.days,
                random_seed=args.random_seed,
                until=args.until or _today(ready),
                timezone=ready.timezone,
                basic_share=args.basic_share,
                workers=args.workers,
            )
        except ValueError as exc:
            print(f"travel-recharge seed: {exc}", file=sys.stderr)
            return 2
        try:
            report = seed(
                ready.migration_url or "", options, reset=args.reset, progress=not args.quiet
            )
        except SeedRefused as exc:
            print(f"travel-recharge seed: {exc}", file=sys.stderr)
            return 2
    print(
        f"seeded {report.users} users, {report.cards} cards, {report.recharges} recharges, "
        f"{report.trips} trips and {report.ledger_entries} ledger entries in {report.seconds} s"
    )
    return 0


async def _on_network(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    connection = await asyncpg.connect(libpq_url(settings.migration_url or ""))
    try:
        return await work(connection)
    finally:
        await connection.close()


def cmd_network_import_gtfs(args: argparse.Namespace) -> int:
    """Exit 0 when the feed replaced the network; 2, writing nothing, when it is refused."""
    from travel_recharge.network.gtfs.errors import FeedRefused
    from travel_recharge.network.gtfs.service import import_gtfs

    with infrastructure(get_settings()) as ready:
        migrate(ready)
        started = time.perf_counter()
        try:
            report = asyncio.run(_on_network(ready, lambda c: import_gtfs(c, Path(args.feed))))
        except FeedRefused as exc:
            print(f"travel-recharge network import-gtfs: {exc}", file=sys.stderr)
            return 2
    print(
        f"imported {report.stations} stations, {report.routes} routes and "
        f"{report.route_stops} route stops in {time.perf_counter() - started:.1f} s; "
        f"{report.routes_without_trips} routes without trips skipped; "
        f"{report.retired_stations} stations and {report.retired_routes} routes no longer "
        "in the feed kept inactive"
    )
    return 0


def cmd_network_export_gtfs(args: argparse.Namespace) -> int:
    from travel_recharge.network.gtfs.service import export_gtfs
    from travel_recharge.network.gtfs.writing import Agency

    with infrastructure(get_settings()) as ready:
        agency = Agency(args.agency_name, args.agency_url, ready.timezone)
        out = Path(args.out)
        asyncio.run(_on_network(ready, lambda c: export_gtfs(c, out, agency, _today(ready))))
    print(f"wrote {out}")
    return 0


def cmd_bench_gtfs_import(args: argparse.Namespace) -> int:
    from travel_recharge.bench.gtfs_import import FeedSize, measure_import

    size = FeedSize(args.stops, args.routes, args.trips_per_direction)
    with infrastructure(get_settings()) as ready:
        result = measure_import(ready.migration_url or "", size)
    print(
        f"feed: {size.stops} stops, {size.routes} routes, {result.stop_times} stop_times "
        f"({result.feed_bytes / 1e6:.1f} MB zipped, generated in {result.generate_s:.1f} s); "
        f"import: {result.import_s:.1f} s ({result.report.stations} stations, "
        f"{result.report.routes} routes, {result.report.route_stops} route stops)"
    )
    return 0


def cmd_bench_deny_list(args: argparse.Namespace) -> int:
    from travel_recharge.bench.deny_list import (
        DenyListBenchOptions,
        markdown,
        run_deny_list_bench,
    )

    options = DenyListBenchOptions(
        cards=args.cards,
        refused_every=args.refused_every,
        changes=args.changes,
        requests=args.requests,
        report_dir=Path(args.report_dir),
    )
    with infrastructure(_bench_settings()) as ready:
        report = run_deny_list_bench(ready, options)
    print(markdown(report))
    return 0


def cmd_bench_reads(args: argparse.Namespace) -> int:
    from travel_recharge.bench.reads import ReadBenchOptions, markdown, run_read_bench

    options = ReadBenchOptions(
        clients=args.clients,
        seconds=args.seconds,
        workers=args.workers,
        report_dir=Path(args.report_dir),
    )
    # The data being measured is the configured (or embedded) database, as seeded.
    with infrastructure(get_settings()) as ready:
        report = run_read_bench(ready, options)
    print(markdown(report))
    return 0


async def _verify_ledger(settings: Settings) -> LedgerVerification:
    database = Database.from_settings(settings)
    try:
        async with database.read_sessions() as session:
            return await verify_ledger(session)
    finally:
        await database.dispose()


def cmd_ledger_verify(_: argparse.Namespace) -> int:
    """Exit 0 when every card's balance equals its ledger sum, 1 otherwise (listed on stdout)."""
    with infrastructure(get_settings()) as ready:
        report = asyncio.run(_verify_ledger(ready))
    print(report.model_dump_json(indent=2))
    return 0 if report.ok else 1


def command_line_actor() -> SystemActor:
    """Who runs a command, for the audit log: no account, the machine's user name."""
    return SystemActor(login=f"cli:{getpass.getuser()}", role="command_line")


async def _create_account(settings: Settings, request: AccountCreate) -> AccountCreated:
    database = Database.from_settings(settings)
    try:
        async with database.write_sessions() as session, session.begin():
            return await accounts.create(session, request, actor=command_line_actor())
    finally:
        await database.dispose()


def cmd_accounts_create(args: argparse.Namespace) -> int:
    """Exit 0 printing the new account and its secret (shown only this once), 2 if refused."""
    try:
        request = AccountCreate(
            login=args.login,
            role=args.role,
            kind=args.kind,
            user_id=args.user_id,
            validator_id=args.validator_id,
            recharge_point_id=args.recharge_point_id,
        )
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]) for error in exc.errors())
        print(f"travel-recharge accounts create: {problems}", file=sys.stderr)
        return 2
    with infrastructure(get_settings()) as ready:
        try:
            created = asyncio.run(_create_account(ready, request))
        except AppError as exc:
            print(f"travel-recharge accounts create: {exc.detail}", file=sys.stderr)
            return 2
    print(created.model_dump_json(indent=2))
    return 0


def cmd_bench_taps(args: argparse.Namespace) -> int:
    from travel_recharge.bench.taps import TapBenchOptions, markdown, run_tap_bench

    options = TapBenchOptions(
        clients=args.clients,
        seconds=args.seconds,
        cards=args.cards,
        workers=args.workers,
        report_dir=Path(args.report_dir),
    )
    with infrastructure(_bench_settings()) as ready:
        report = run_tap_bench(ready, options)
    print(markdown(report))
    print(f"ledger mismatches after the run: {report['ledger_mismatches']}")
    return 0 if report["ledger_mismatches"] == 0 else 1


def _bench_settings() -> Settings:
    settings = get_settings()
    # Its own embedded servers, so a bench never disturbs a running `make run`.
    return settings.model_copy(update={"data_dir": settings.data_dir / "bench"})


def cmd_bench_suite(args: argparse.Namespace) -> int:
    """Exit 0; 1 when the ledger does not verify after the run; 3 when a figure regressed
    against --baseline; 2 when the baseline is missing."""
    from travel_recharge.bench.suite import SuiteOptions, exit_code, run_suite
    from travel_recharge.bench.suite_report import markdown

    options = SuiteOptions(
        clients=args.clients,
        seconds=args.seconds,
        warmup_seconds=args.warmup_seconds,
        workers=args.workers,
        cards=args.cards,
        steps=tuple(args.steps),
        step_seconds=args.step_seconds,
        tap_p99_ms=args.tap_p99_ms,
        report_dir=Path(args.report_dir),
        baseline=Path(args.baseline) if args.baseline else None,
        front_url=args.url,
        cluster_state=_cluster_state(args),
    )
    if options.baseline is not None and not options.baseline.is_file():
        print(f"travel-recharge bench suite: no file {options.baseline}", file=sys.stderr)
        return 2
    with infrastructure(_bench_settings()) as ready:
        report = run_suite(ready, options)
    print(markdown(report))
    return exit_code(report)


def _cluster_state(args: argparse.Namespace) -> Path | None:
    """The state directory of the cluster whose front --url names (None: no --url)."""
    if not args.url:
        return None
    if args.cluster_state:
        return Path(args.cluster_state)
    from travel_recharge.cluster.topology import default_state_dir

    return default_state_dir(get_settings().data_dir, 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="travel-recharge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve the API (embedded PostgreSQL and Valkey when their URLs are unset)",
    )
    serve.add_argument("--host", help="bind address (default TR_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default TR_PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default TR_WORKERS or 1)")
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="apply migrations first (always done in embedded mode)",
    )
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser(
        "migrate", help="upgrade the database schema to the newest version"
    )
    migrate.set_defaults(handler=cmd_migrate)

    forecast = commands.add_parser(
        "forecast", help="fit the revenue forecast now (workers do it at most hourly)"
    )
    forecast.add_argument("--force", action="store_true", help="fit even if the last is fresh")
    forecast.set_defaults(handler=cmd_forecast)

    flows = commands.add_parser(
        "flows", help="count the finished days' trip flows now (workers do it when one is due)"
    )
    flows.set_defaults(handler=cmd_flows)

    database = commands.add_parser("db", help="database administration")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    grant = database_commands.add_parser(
        "grant",
        help="give an existing role what the service needs (rows, sequences, functions; no "
        "DDL), as the schema owner (TR_DATABASE_MIGRATION_URL, else TR_DATABASE_URL)",
    )
    grant.add_argument("--role", required=True, help="the role TR_DATABASE_URL connects as")
    grant.set_defaults(handler=cmd_db_grant)

    _add_seed_parser(commands)
    _add_simulate_parser(commands)
    _add_network_parser(commands)

    ledger = commands.add_parser("ledger", help="ledger tools")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_commands.add_parser(
        "verify", help="report every card whose stored balance differs from its ledger"
    )
    verify.set_defaults(handler=cmd_ledger_verify)

    account_tools = commands.add_parser("accounts", help="accounts that may ask for tokens")
    account_commands = account_tools.add_subparsers(dest="accounts_command", required=True)
    create = account_commands.add_parser(
        "create", help="create an account (the first admin, a device) and print its secret once"
    )
    create.add_argument("--login", required=True, help="username or client_id")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--kind", choices=["person", "client"], help="default: by role")
    create.add_argument("--user-id", type=int, help="the rider, for the rider role")
    create.add_argument(
        "--validator-id", help="the validator it acts as, for the validator role (required)"
    )
    create.add_argument(
        "--recharge-point-id",
        type=int,
        help="the recharge point it acts as, for the recharge_point role (required)",
    )
    create.set_defaults(handler=cmd_accounts_create)

    bench = commands.add_parser("bench", help="benchmarks against a real server")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True)
    taps = bench_commands.add_parser(
        "taps", help="tap-in throughput through HTTP beside pgbench running the same SQL"
    )
    taps.add_argument("--clients", type=int, default=64, help="concurrent connections")
    taps.add_argument("--seconds", type=int, default=15, help="measured seconds per phase")
    taps.add_argument("--cards", type=int, default=4000, help="fixture cards")
    taps.add_argument("--workers", type=int, default=2, help="server worker processes")
    taps.add_argument("--report-dir", default="bench-reports", help="where JSON/Markdown go")
    taps.set_defaults(handler=cmd_bench_taps)
    reads = bench_commands.add_parser(
        "reads", help="each read endpoint warm (Redis) and cold (PostgreSQL only), as seeded"
    )
    reads.add_argument("--clients", type=int, default=8, help="concurrent connections")
    reads.add_argument("--seconds", type=float, default=3.0, help="measured seconds per side")
    reads.add_argument("--workers", type=int, default=1, help="worker processes per server")
    reads.add_argument("--report-dir", default="bench-reports", help="where JSON/Markdown go")
    reads.set_defaults(handler=cmd_bench_reads)
    _add_bench_suite_parser(bench_commands)
    gtfs = bench_commands.add_parser(
        "gtfs-import",
        help="generate a Bogotá-sized GTFS feed and time its import into a scratch database",
    )
    gtfs.add_argument("--stops", type=int, default=8300)
    gtfs.add_argument("--routes", type=int, default=1000)
    gtfs.add_argument("--trips-per-direction", type=int, default=60, help="per route, per day")
    gtfs.set_defaults(handler=cmd_bench_gtfs_import)
    deny = bench_commands.add_parser(
        "deny-list",
        help="bytes and time of the deny list a validator downloads: whole, then a delta",
    )
    deny.add_argument("--cards", type=int, default=1_000_000)
    deny.add_argument("--refused-every", type=int, default=100, help="block every Nth card")
    deny.add_argument("--changes", type=int, default=100, help="status changes in the delta")
    deny.add_argument("--requests", type=int, default=20, help="per answer and encoding")
    deny.add_argument("--report-dir", default="bench-reports", help="where JSON/Markdown go")
    deny.set_defaults(handler=cmd_bench_deny_list)
    add_cluster_parser(commands)
    add_export_parser(commands, infrastructure)
    return parser


def _add_bench_suite_parser(
    bench_commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    suite = bench_commands.add_parser(
        "suite",
        help="reads, taps, recharges and a mixed workload beside the machine's ceilings "
        "(redis-benchmark, pgbench, bare FastAPI), capacity, memory and a regression check",
    )
    suite.add_argument("--clients", type=int, default=32, help="concurrent connections")
    suite.add_argument("--seconds", type=float, default=10.0, help="measured seconds per workload")
    suite.add_argument(
        "--warmup-seconds", type=float, default=1.0, help="unmeasured seconds before each"
    )
    suite.add_argument("--workers", type=int, default=2, help="server worker processes")
    suite.add_argument("--cards", type=int, default=4000, help="fixture tap cards")
    suite.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[4, 8, 16, 24, 32, 48, 64],  # as SuiteOptions.steps (bench is imported late)
        help="tap clients of each capacity step",
    )
    suite.add_argument("--step-seconds", type=float, default=5.0, help="seconds per step")
    suite.add_argument(
        "--tap-p99-ms", type=float, default=50.0, help="p99 limit of the capacity statement"
    )
    suite.add_argument("--report-dir", default="bench-reports", help="where JSON/Markdown go")
    suite.add_argument(
        "--baseline", help="a previous suite JSON: flag figures more than 20%% worse (exit 3)"
    )
    suite.add_argument(
        "--url",
        help="also measure through this front of a running `travel-recharge cluster` "
        "(e.g. http://127.0.3.100:8000)",
    )
    suite.add_argument(
        "--cluster-state",
        help="that cluster's state directory (default: the one `cluster up` uses for site 0)",
    )
    suite.set_defaults(handler=cmd_bench_suite)


def _add_network_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    network = commands.add_parser("network", help="the transit network: GTFS in and out")
    network_commands = network.add_subparsers(dest="network_command", required=True)
    feed_in = network_commands.add_parser(
        "import-gtfs",
        help="replace the network with a GTFS feed's (a broken feed is refused, nothing written)",
    )
    feed_in.add_argument("feed", help="the feed, a GTFS .zip")
    feed_in.set_defaults(handler=cmd_network_import_gtfs)
    feed_out = network_commands.add_parser(
        "export-gtfs", help="write the network we serve as a GTFS feed"
    )
    feed_out.add_argument("out", help="the .zip to write")
    feed_out.add_argument("--agency-name", default="TransMilenio S.A.", help="agency_name")
    feed_out.add_argument(
        "--agency-url", default="https://www.transmilenio.gov.co", help="agency_url"
    )
    feed_out.set_defaults(handler=cmd_network_export_gtfs)


def _add_simulate_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser(
        "simulate",
        help="start the server's traffic simulator, print its progress, stop it on Ctrl-C",
    )
    simulate.add_argument(
        "--rate", type=float, required=True, help="events (taps, recharges) per second, 0.1-500"
    )
    simulate.add_argument("--minutes", type=float, required=True, help="run length, up to 240")
    simulate.add_argument("--url", help="the server (default TR_SELF_URL or TR_HOST:TR_PORT)")
    simulate.add_argument(
        "--credentials",
        help="a credentials file with an operator entry (default: the demo's, in TR_DATA_DIR)",
    )
    simulate.add_argument("--login", help="an operator's (or admin's) username")
    simulate.add_argument("--secret", help="their password")
    simulate.add_argument("--every", type=float, default=3.0, help="seconds between progress lines")
    simulate.set_defaults(handler=cmd_simulate)


def _add_seed_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from travel_recharge.seed.options import (
        DEFAULT_BASIC_SHARE,
        DEFAULT_RANDOM_SEED,
        DEMO_DAYS,
        DEMO_USERS,
        default_workers,
    )

    seed = commands.add_parser(
        "seed",
        help="generate users, cards, recharges and trips (deterministic) and load them with COPY",
    )
    seed.add_argument(
        "--users", type=int, default=DEMO_USERS, help="riders with a personalized card"
    )
    seed.add_argument("--days", type=int, default=DEMO_DAYS, help="days of trips to generate")
    seed.add_argument(
        "--random-seed", type=int, default=DEFAULT_RANDOM_SEED, help="same seed, same data"
    )
    seed.add_argument(
        "--until",
        type=date.fromisoformat,
        help="first day after the data, YYYY-MM-DD (default: today in the city's time zone)",
    )
    seed.add_argument(
        "--basic-share",
        type=float,
        default=DEFAULT_BASIC_SHARE,
        help="share of the cards that are basic",
    )
    seed.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="generator processes (default: cores)",
    )
    seed.add_argument(
        "--reset",
        action="store_true",
        help="replace existing users, cards, recharges and trips (fare policies and network stay)",
    )
    seed.add_argument("--quiet", action="store_true", help="no progress bar")
    seed.set_defaults(handler=cmd_seed)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.logs_as_json)
    signal.signal(signal.SIGTERM, _raise_exit)
    try:
        code: int = args.handler(args)
    except EmbeddedError as exc:
        log_event(logger, "launcher.refused", logging.ERROR, reason=str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
