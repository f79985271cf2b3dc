"""Ingesting an offline batch, and the offline risk report.

The taps are grouped by card and each card's taps applied in event-time order, in one
transaction per card (cards in id order: two batches never wait on each other in a circle,
and an online tap of one card waits for that card's taps only). Each tap of a card with
several runs in a savepoint of its own, and a card's only tap in its own transaction: a
refused tap undoes its own writes alone. A batch that fails halfway (the
database lost) is sent again: what was applied answers `duplicate`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import groupby

from travel_recharge.kit.cache import Cache
from travel_recharge.kit.config import Settings
from travel_recharge.kit.db import Database, DriverTransaction, ReadSession, driver_transaction
from travel_recharge.kit.errors import AppError
from travel_recharge.kit.pagination import Page
from travel_recharge.trips import service as trips
from travel_recharge.trips.batches import repository
from travel_recharge.trips.batches.schemas import (
    BatchOut,
    BatchTap,
    BatchTapResult,
    OfflineRiskOut,
    OfflineRisksOut,
    RepricedTrip,
    TapBatch,
)
from travel_recharge.trips.schemas import TapIn


async def ingest(
    database: Database,
    cache: Cache,
    batch: TapBatch,
    now: datetime,
    settings: Settings,
    *,
    account_id: int | None,
) -> BatchOut:
    """Apply every tap of the batch at most once; one result per tap, in the order sent."""
    order = sorted(
        range(len(batch.taps)), key=lambda i: (batch.taps[i].card_id, batch.taps[i].event_time)
    )
    taps = _Taps(cache, batch.validator_id, now, settings, account_id)
    results: dict[int, BatchTapResult] = {}
    for _, indexes in groupby(order, key=lambda i: batch.taps[i].card_id):
        group = list(indexes)
        if len(group) == 1:
            # A card's only tap needs no savepoint: its own transaction fails alone.
            results[group[0]] = await taps.alone(database, batch.taps[group[0]])
            continue
        async with driver_transaction(database) as unit:
            for i in group:
                results[i] = await taps.among_others(unit, batch.taps[i])
    answers = [results[i] for i in range(len(batch.taps))]
    return BatchOut(
        validator_id=batch.validator_id,
        taps=answers,
        charged=sum(a.result == "charged" for a in answers),
        duplicates=sum(a.result == "duplicate" for a in answers),
        refused=sum(a.result == "refused" for a in answers),
        offline_risks=sum(a.offline_risk for a in answers),
    )


@dataclass(frozen=True)
class _Taps:
    """What every tap of one batch is applied with."""

    cache: Cache
    validator_id: str
    now: datetime
    settings: Settings
    account_id: int | None

    async def alone(self, database: Database, tap: BatchTap) -> BatchTapResult:
        """The card's only tap of the batch, in a transaction of its own."""
        try:
            async with driver_transaction(database) as unit:
                applied = await self._apply(unit, tap)
        except AppError as refusal:
            return _refused(tap, refusal)
        return _result(tap, applied)

    async def among_others(self, unit: DriverTransaction, tap: BatchTap) -> BatchTapResult:
        """One of the card's taps, in a savepoint of the card's transaction."""
        try:
            async with unit.savepoint():
                applied = await self._apply(unit, tap)
        except AppError as refusal:
            return _refused(tap, refusal)
        return _result(tap, applied)

    async def _apply(self, unit: DriverTransaction, tap: BatchTap) -> trips.Applied:
        request = TapIn(
            card_id=tap.card_id,
            station_id=tap.station_id,
            route_code=tap.route_code,
            validator_id=self.validator_id,
            tap_id=tap.tap_id,
            event_time=tap.event_time,
        )
        return await trips.offline_tap(
            unit, self.cache, request, self.now, self.settings, account_id=self.account_id
        )


def _refused(tap: BatchTap, refusal: AppError) -> BatchTapResult:
    return BatchTapResult(
        tap_id=tap.tap_id,
        card_id=tap.card_id,
        result="refused",
        error=refusal.code,
        reason=refusal.detail,
    )


def _result(tap: BatchTap, applied: trips.Applied) -> BatchTapResult:
    answer, repricing = applied.answer, applied.repricing
    return BatchTapResult(
        tap_id=tap.tap_id,
        card_id=tap.card_id,
        result="charged" if applied.created else "duplicate",
        trip_id=answer.trip_id,
        fare_charged=answer.fare_charged,
        fare_kind=answer.fare_kind,
        balance_after=answer.balance_after,
        offline_risk=applied.uncovered,
        repriced=[]
        if repricing is None
        else [RepricedTrip(**asdict(change)) for change in repricing.changes],
        adjustment=0 if repricing is None else repricing.amount,
        adjustment_entry_id=None if repricing is None else repricing.ledger_entry_id,
    )


async def offline_risks(session: ReadSession, card_id: int | None, page: Page) -> OfflineRisksOut:
    rows = await repository.offline_risks(session, card_id, page.limit, page.offset)
    return OfflineRisksOut(
        offline_risks=[
            OfflineRiskOut(
                trip_id=row.trip_id,
                card_id=row.card_id,
                validator_id=row.validator_id,
                fare_charged=row.fare_charged,
                balance_after=row.balance_after,
                recorded_at=row.recorded_at,
            )
            for row in rows
        ],
        page=page.info(len(rows)),
    )
