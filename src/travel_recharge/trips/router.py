"""Trip endpoints: taps, trip ends, a card's trips."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from travel_recharge.cards.schemas import CardId
from travel_recharge.cards.service import cache_group
from travel_recharge.kit.cache import CacheDep
from travel_recharge.kit.config import SettingsDep
from travel_recharge.kit.db import DriverTransactionDep, PrimaryReadSessionDep, UnitOfWorkDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.pagination import PageDep
from travel_recharge.kit.views import cached_json
from travel_recharge.security import Role, allow, allow_card_owner
from travel_recharge.trips import service
from travel_recharge.trips.schemas import CardTripsOut, TapIn, TapOut, TripEndIn, TripEndOut

router = APIRouter(prefix="/api/v1/trips", tags=["trips"], route_class=StrictJSONRoute)


@router.post(
    "/start",
    status_code=201,
    response_model=TapOut,
    responses={
        200: {"model": TapOut, "description": "A retried or double tap: the original answer"},
        **error_responses(402, 404, 409, 422),
    },
    dependencies=[allow("taps", Role.validator)],
)
async def start_trip(
    request: TapIn, unit: DriverTransactionDep, cache: CacheDep, settings: SettingsDep
) -> Response:
    """Price a tap (full fare, transfer, credit or benefit trip) and charge the card once."""
    answer, created = await service.tap(unit, cache, request, datetime.now(UTC), settings)
    # Serialized here: the answer is already a validated TapOut (the hot path of the API).
    return Response(
        content=answer.model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.post(
    "/end",
    response_model=TripEndOut,
    responses=error_responses(404, 409, 422),
    dependencies=[allow("taps", Role.validator)],
)
async def end_trip(request: TripEndIn, uow: UnitOfWorkDep, cache: CacheDep) -> TripEndOut:
    """Record where the rider left (no charge: fares are charged on entry)."""
    return await service.end_trip(uow, cache, request, datetime.now(UTC))


@router.get(
    "/card/{card_id}",
    response_model=CardTripsOut,
    responses=error_responses(404, 422),
    dependencies=[allow_card_owner("cards", Role.operator)],
)
async def card_trips(
    card_id: CardId,
    page: PageDep,
    session: PrimaryReadSessionDep,
    cache: CacheDep,
    settings: SettingsDep,
) -> Response:
    """The card's trips, newest first."""

    return await cached_json(
        cache,
        cache_group(card_id),
        f"trips:{page.cache_field}",
        settings.cache_ttl_card_s,
        lambda: service.card_trips(session, card_id, page),
    )
