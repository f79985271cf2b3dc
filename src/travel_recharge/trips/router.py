"""Trip endpoints: taps, trip ends, a card's trips."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from travel_recharge.cards.auth import allow_card_owner
from travel_recharge.cards.errors import CardNotActive, CardNotFound
from travel_recharge.cards.schemas import CardId
from travel_recharge.fares.errors import NoFarePolicyInForce
from travel_recharge.kit.cache import Cache, CacheDep
from travel_recharge.kit.config import Settings, SettingsDep
from travel_recharge.kit.db import DriverTransaction, DriverTransactionDep, UnitOfWorkDep
from travel_recharge.kit.errors import error_responses
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.kit.pagination import PageDep
from travel_recharge.kit.views import PrimaryReadsDep, json_response
from travel_recharge.network.errors import RouteNotFound, StationNotFound
from travel_recharge.security import CurrentPrincipal, Principal, Role, allow
from travel_recharge.security.devices import require_own_validator
from travel_recharge.trips import service, views
from travel_recharge.trips.errors import TapIdTaken
from travel_recharge.trips.schemas import CardTripsOut, TapIn, TapOut, TripEndIn, TripEndOut

router = APIRouter(prefix="/api/v1/trips", tags=["trips"], route_class=StrictJSONRoute)
TAP_PATH = "/api/v1/trips/start"
TAP_ACCESS = allow("taps", Role.validator)


@router.post(
    TAP_PATH.removeprefix(router.prefix),
    status_code=201,
    response_model=TapOut,
    responses={
        200: {"model": TapOut, "description": "A retried or double tap: the original answer"},
        **error_responses(
            CardNotFound,
            StationNotFound,
            RouteNotFound,
            CardNotActive,
            TapIdTaken,
            NoFarePolicyInForce,
            402,
            403,
        ),
    },
    dependencies=[TAP_ACCESS],
)
async def start_trip(
    request: TapIn,
    principal: CurrentPrincipal,
    unit: DriverTransactionDep,
    cache: CacheDep,
    settings: SettingsDep,
) -> Response:
    """Price a tap (full fare, transfer, credit or benefit trip) and charge the card once."""
    return await tap_answer(request, principal, unit, cache, settings)


async def tap_answer(
    request: TapIn,
    principal: Principal,
    unit: DriverTransaction,
    cache: Cache,
    settings: Settings,
) -> Response:
    """The tap's answer, by the route and by its direct route (trips.direct) alike."""
    require_own_validator(principal, request.validator_id)
    answer, created = await service.tap(
        unit, cache, request, datetime.now(UTC), settings, account_id=principal.account_id
    )
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
async def card_trips(card_id: CardId, page: PageDep, reads: PrimaryReadsDep) -> Response:
    """The card's trips, newest first."""
    return json_response(await views.card_trips_view(reads, card_id, page))
