"""Write a TIDES data package of the ledger: fare_transactions.csv, devices.csv and the
datapackage.json describing them, from one snapshot of the database."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from travel_recharge.finance.tides import repository
from travel_recharge.finance.tides.schemas import (
    DATA_PACKAGE_FILE,
    DEVICES_FILE,
    FARE_TRANSACTIONS_FILE,
    TidesExport,
    TidesRequest,
    data_package,
)
from travel_recharge.kit.clock import local_days
from travel_recharge.kit.logs import log_event

logger = logging.getLogger("travel_recharge.finance.tides")


def service_days(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    """The instants [start, end) of the city's days first..last, both included."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    return local_days(first, last, ZoneInfo(timezone))


async def export_tides(
    connection: asyncpg.Connection, request: TidesRequest, directory: Path
) -> TidesExport:
    """Write the package into `directory` (created if missing; our files are replaced)."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    async with repository.snapshot(connection):
        transactions = await repository.copy_fare_transactions(
            connection, request, directory / FARE_TRANSACTIONS_FILE
        )
        devices = await repository.copy_devices(connection, request, directory / DEVICES_FILE)
    package = data_package("travel-recharge-tides")
    text = json.dumps(package, indent=2) + "\n"
    await asyncio.to_thread((directory / DATA_PACKAGE_FILE).write_text, text, "utf-8")
    log_event(
        logger,
        "export.tides",
        start=request.start.isoformat(),
        end=request.end.isoformat(),
        fare_transactions=transactions,
        devices=devices,
    )
    return TidesExport(fare_transactions=transactions, devices=devices)
