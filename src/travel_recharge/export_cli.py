"""`travel-recharge export`: the ledger as TIDES, the fare policy as GTFS-Fares v2.

Kept out of cli.py (which is long already); cli.py hands in its `infrastructure`, the
context that points the settings at running servers (embedded ones when none is set).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from travel_recharge.fares.gtfs.service import export_gtfs_fares
from travel_recharge.fares.policy import CURRENCY, FarePolicy
from travel_recharge.finance.tides.schemas import TidesExport, TidesRequest
from travel_recharge.finance.tides.service import export_tides, service_days
from travel_recharge.kit.config import Settings, get_settings
from travel_recharge.kit.db import Database, driver_in
from travel_recharge.kit.errors import AppError

Infrastructure = Callable[[Settings], AbstractContextManager[Settings]]

# The rider category of a card without a profile, in both exports.
DEFAULT_RIDER_CATEGORY = "regular"


async def _export_tides(settings: Settings, request: TidesRequest, directory: Path) -> TidesExport:
    database = Database.from_settings(settings)
    try:
        # A read: the replica when one is configured and answers.
        async with database.read_sessions() as session:
            driver = await driver_in(session)
            return await export_tides(driver.connection, request, directory)
    finally:
        await database.dispose()


def cmd_export_tides(args: argparse.Namespace, *, infrastructure: Infrastructure) -> int:
    """Exit 0 with the row counts; 2 when the dates are refused."""
    settings = get_settings()
    try:
        start, end = service_days(args.first, args.last, settings.timezone)
    except ValueError as exc:
        print(f"travel-recharge export tides: {exc}", file=sys.stderr)
        return 2
    request = TidesRequest(
        start=start,
        end=end,
        timezone=settings.timezone,
        currency=CURRENCY,
        default_rider_category=DEFAULT_RIDER_CATEGORY,
        include_simulated=args.include_simulated,
    )
    with infrastructure(settings) as ready:
        written = asyncio.run(_export_tides(ready, request, Path(args.directory)))
    print(
        f"wrote {written.fare_transactions} fare transactions and {written.devices} devices "
        f"to {args.directory}"
    )
    return 0


async def _export_gtfs_fares(settings: Settings, at: datetime, directory: Path) -> FarePolicy:
    database = Database.from_settings(settings)
    try:
        async with database.read_sessions() as session:
            return await export_gtfs_fares(session, at, DEFAULT_RIDER_CATEGORY, directory)
    finally:
        await database.dispose()


def cmd_export_gtfs_fares(args: argparse.Namespace, *, infrastructure: Infrastructure) -> int:
    """Exit 0 naming the policy written; 2 when no policy was in force at that date."""
    settings = get_settings()
    at = (
        datetime.combine(args.at, time(), ZoneInfo(settings.timezone))
        if args.at
        else datetime.now(UTC)
    )
    with infrastructure(settings) as ready:
        try:
            policy = asyncio.run(_export_gtfs_fares(ready, at, Path(args.directory)))
        except AppError as exc:
            print(f"travel-recharge export gtfs-fares: {exc.detail}", file=sys.stderr)
            return 2
    print(f"wrote the policy in force from {policy.effective_from.isoformat()} to {args.directory}")
    return 0


def add_export_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], infrastructure: Infrastructure
) -> None:
    export = commands.add_parser("export", help="open-standard exports (TIDES, GTFS-Fares v2)")
    exports = export.add_subparsers(dest="export_command", required=True)
    tides = exports.add_parser(
        "tides",
        help="fare_transactions.csv (every tap, recharge and adjustment) and devices.csv as a "
        "TIDES data package, streamed from the database",
    )
    tides.add_argument(
        "--from",
        dest="first",
        metavar="DATE",
        type=date.fromisoformat,
        required=True,
        help="first service date, YYYY-MM-DD, in the city's time zone",
    )
    tides.add_argument(
        "--to",
        dest="last",
        metavar="DATE",
        type=date.fromisoformat,
        required=True,
        help="last service date (included)",
    )
    tides.add_argument(
        "--include-simulated",
        action="store_true",
        help="also the traffic simulator's cards (left out: they are not real riders)",
    )
    tides.add_argument("directory", help="where the files go (created if missing)")
    tides.set_defaults(handler=partial(cmd_export_tides, infrastructure=infrastructure))
    gtfs_fares = exports.add_parser(
        "gtfs-fares",
        help="the fare policy in force as GTFS-Fares v2 (fare_media, rider_categories, "
        "networks, fare_products, fare_leg_rules, fare_transfer_rules)",
    )
    gtfs_fares.add_argument(
        "--at",
        metavar="DATE",
        type=date.fromisoformat,
        help="the policy in force on this date, YYYY-MM-DD (default: now)",
    )
    gtfs_fares.add_argument("directory", help="where the files go (created if missing)")
    gtfs_fares.set_defaults(handler=partial(cmd_export_gtfs_fares, infrastructure=infrastructure))
