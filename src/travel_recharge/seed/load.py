"""Seeding a database: migrate, load the network, generate in worker processes, COPY.

The whole load is one transaction on one connection: the rows of each chunk of cards are
streamed with COPY as soon as a worker has generated them, in card order, so ids are
deterministic; what bulk loading suspends is restored before the commit (repository.py).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from multiprocessing.pool import AsyncResult, Pool

import asyncpg
from tqdm import tqdm

from travel_recharge.kit.bulk import continue_id_sequences
from travel_recharge.kit.logs import log_event
from travel_recharge.kit.scratch import libpq_url
from travel_recharge.migrations import upgrade_to_head
from travel_recharge.network.loader import load_reference_network
from travel_recharge.seed import repository
from travel_recharge.seed.generate import (
    CARD_COLUMNS,
    LEDGER_COLUMNS,
    RECHARGE_COLUMNS,
    TRIP_COLUMNS,
    USER_COLUMNS,
    ChunkRows,
    Period,
    generate_cards,
)
from travel_recharge.seed.options import (
    DEFAULT_RANDOM_SEED,
    DEMO_DAYS,
    DEMO_USERS,
    SeedOptions,
    default_workers,
)
from travel_recharge.seed.world import World

logger = logging.getLogger("travel_recharge.seed")


class SeedRefused(RuntimeError):
    """The database cannot take this seed; nothing was generated or changed."""


class DatabaseNotEmpty(SeedRefused):
    """The database already has riders; seeding would mix two datasets."""


@dataclass(frozen=True)
class SeedReport:
    users: int
    cards: int
    recharges: int
    trips: int
    ledger_entries: int
    seconds: float


@dataclass
class _Ids:
    """The next id of each table; ids are given in the order rows are streamed."""

    recharge: int = 1
    trip: int = 1
    ledger: int = 1


def chunks(options: SeedOptions) -> list[tuple[int, int]]:
    """Disjoint card id ranges (inclusive) covering every card."""
    # Long periods mean more trips per card: smaller chunks keep each one's rows bounded.
    size = max(1, min(options.chunk_cards, options.chunk_cards * 14 // options.days))
    total = options.cards
    return [(first, min(first + size - 1, total)) for first in range(1, total + 1, size)]


# Worker processes receive the world once, at start, not with every chunk.
_worker_job: list[tuple[World, SeedOptions]] = []


def _init_worker(world: World, options: SeedOptions) -> None:
    # Forked workers inherit the launcher's SIGTERM handler (SystemExit), which can leave a
    # worker stuck on the task queue's lock when the pool is terminated; and Ctrl-C is the
    # parent's to handle: it stops the pool.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_job[:] = [(world, options)]


def _generate_chunk(first: int, last: int) -> ChunkRows:
    world, options = _worker_job[0]
    return generate_cards(world, options, first, last)


@contextmanager
def _workers(world: World, options: SeedOptions) -> Iterator[Pool | None]:
    """A process pool when more than one worker is asked for (None: generate in-process)."""
    if options.workers == 1:
        yield None
        return
    # Fork shares the world without pickling and starts at once; it happens before the
    # loader opens its connection and before any thread exists in this process.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = multiprocessing.get_context(method).Pool(
        options.workers, initializer=_init_worker, initargs=(world, options)
    )
    try:
        yield pool
        pool.close()  # every task is done: the workers finish and exit
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _generated(pool: Pool | None, world: World, options: SeedOptions) -> Iterator[ChunkRows]:
    """Chunks in card order; at most two per worker are in flight, bounding memory."""
    ranges = chunks(options)
    if pool is None:
        for first, last in ranges:
            yield generate_cards(world, options, first, last)
        return
    pending: deque[AsyncResult[ChunkRows]] = deque()
    for first, last in ranges:
        pending.append(pool.apply_async(_generate_chunk, (first, last)))
        if len(pending) > 2 * options.workers:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


async def _copy_chunk(connection: asyncpg.Connection, rows: ChunkRows, ids: _Ids) -> None:
    recharge, trip, ledger = ids.recharge, ids.trip, ids.ledger
    await repository.copy_rows(connection, "users", USER_COLUMNS, rows.users)
    await repository.copy_rows(connection, "cards", CARD_COLUMNS, rows.cards)
    await repository.copy_rows(
        connection,
        "recharges",
        ("id", *RECHARGE_COLUMNS),
        ((recharge + i, *row) for i, row in enumerate(rows.recharges)),
    )
    await repository.copy_rows(
        connection,
        "trips",
        ("id", *TRIP_COLUMNS),
        ((trip + i, *row) for i, row in enumerate(rows.trips)),
    )
    # Ledger rows point at recharges and trips by their index in the chunk.
    await repository.copy_rows(
        connection,
        "ledger_entries",
        ("id", *LEDGER_COLUMNS),
        (
            (
                ledger + i,
                card,
                kind,
                amount,
                balance_after,
                None if r is None else recharge + r,
                None if t is None else trip + t,
                created_at,
            )
            for i, (card, kind, amount, balance_after, r, t, created_at) in enumerate(rows.ledger)
        ),
    )
    ids.recharge += len(rows.recharges)
    ids.trip += len(rows.trips)
    ids.ledger += len(rows.ledger)


async def _prepare(database_url: str, options: SeedOptions, reset: bool) -> World:
    connection = await asyncpg.connect(libpq_url(database_url))
    try:
        await load_reference_network(connection)
        _refuse_unless_empty(await repository.occupancy(connection), reset)
        try:
            world = await repository.fetch_world(connection)
        except ValueError as exc:
            raise SeedRefused(str(exc)) from exc
    finally:
        await connection.close()
    first_day = Period.of(options).midnights[0]
    if first_day < world.policies[0].policy.effective_from:
        raise SeedRefused(
            f"no fare policy is in force on {options.until - timedelta(days=options.days)}:"
            f" the first starts {world.policies[0].policy.effective_from.date()}"
        )
    return world


def _refuse_unless_empty(found: repository.Occupancy, reset: bool) -> None:
    if not found.empty and not reset:
        raise DatabaseNotEmpty(
            f"the database already has {found.users} users, {found.cards} cards and "
            f"{found.trips} trips; pass --reset to replace them (fare policies and the "
            "network are kept)"
        )


async def _load(
    database_url: str,
    options: SeedOptions,
    world: World,
    pool: Pool | None,
    *,
    reset: bool,
    progress: bool,
) -> SeedReport:
    started = time.perf_counter()
    connection = await asyncpg.connect(libpq_url(database_url))
    bar = tqdm(
        total=options.cards, unit=" cards", file=sys.stderr, disable=not progress, desc="seed"
    )
    ids = _Ids()
    users = 0
    transaction = connection.transaction()
    try:
        await transaction.start()
        await repository.lock_generated(connection)
        _refuse_unless_empty(await repository.occupancy(connection), reset)
        await repository.clear_generated(connection, idempotency=reset)
        suspended = await repository.suspend_for_bulk_load(connection)
        for rows in _generated(pool, world, options):
            await _copy_chunk(connection, rows, ids)
            users += len(rows.users)
            bar.update(len(rows.cards))
            bar.set_postfix(trips=ids.trip - 1, refresh=False)
        bar.set_description("seed: indexes, foreign keys, rollups")
        await repository.restore_after_bulk_load(connection, suspended)
        await continue_id_sequences(connection, repository.GENERATED_TABLES)
        await repository.rebuild_rollups(connection)
        await transaction.commit()
        await repository.analyze(connection)
        await connection.close()
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM) possibly in the middle of a COPY: drop the connection
        # and let the server roll the whole load back, schema changes included.
        connection.terminate()
        raise
    finally:
        bar.close()
    return SeedReport(
        users=users,
        cards=options.cards,
        recharges=ids.recharge - 1,
        trips=ids.trip - 1,
        ledger_entries=ids.ledger - 1,
        seconds=round(time.perf_counter() - started, 2),
    )


def seed(
    database_url: str,
    options: SeedOptions,
    *,
    reset: bool = False,
    progress: bool = True,
    migrate: bool = True,
) -> SeedReport:
    """Migrate, load the network if missing, then generate and load the riders.

    Raises DatabaseNotEmpty when users, cards or trips exist and `reset` is not given, and
    SeedRefused when the network or the fare policies cannot price the period.
    """
    started = time.perf_counter()
    if migrate:
        upgrade_to_head(database_url)
    world = asyncio.run(_prepare(database_url, options, reset))
    # The pool starts between the two event loops: no connection or thread is forked.
    with _workers(world, options) as pool:
        report = asyncio.run(
            _load(database_url, options, world, pool, reset=reset, progress=progress)
        )
    # The whole run, migrations and the network included.
    report = replace(report, seconds=round(time.perf_counter() - started, 2))
    log_event(logger, "seed.loaded", **asdict(report))
    return report


def seed_demo_if_empty(
    database_url: str,
    until: date,
    timezone: str,
    *,
    users: int = DEMO_USERS,
    days: int = DEMO_DAYS,
) -> SeedReport | None:
    """`make run`'s first start: the network and a small demo dataset, once.

    A database that has users, cards or trips keeps them (the network is still loaded when
    missing), so later starts keep whatever the demo and the API created.
    """
    options = SeedOptions(
        users=users,
        days=days,
        random_seed=DEFAULT_RANDOM_SEED,
        until=until,
        timezone=timezone,
        workers=default_workers(),
    )
    try:
        return seed(database_url, options, migrate=False)
    except SeedRefused as exc:
        # Serving matters more than demo data: say why and go on.
        log_event(logger, "seed.demo_skipped", reason=str(exc))
        return None
