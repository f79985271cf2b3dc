"""The trips' read views: a card's trips, cached, from the primary."""

from __future__ import annotations

from travel_recharge.cards import service as cards
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.pagination import Page
from travel_recharge.kit.views import Reads
from travel_recharge.trips import repository
from travel_recharge.trips.schemas import CardTrip, CardTripsOut


async def card_trips_view(reads: Reads, card_id: int, page: Page) -> bytes:
    """A page of the card's trips from the primary; taps invalidate the card's group."""
    return await reads.view(
        cards.cache_group(card_id),
        f"trips:{page.cache_field}",
        reads.settings.cache_ttl_card_s,
        lambda session: card_trips(session, card_id, page),
        cacheable=page.cacheable,
    )


async def card_trips(session: ReadSession, card_id: int, page: Page) -> CardTripsOut:
    await cards.require_card(session, card_id)
    rows = await repository.trips_of_card(session, card_id, page.limit, page.offset)
    return CardTripsOut(
        card_id=card_id,
        trips=[
            CardTrip(
                trip_id=t.id,
                card_id=t.card_id,
                boarding_station_id=t.station_id,
                disembarking_station_id=t.end_station_id,
                boarding_time=t.event_time,
                disembarking_time=t.ended_at,
                route_code=code,
                service_kind=t.service_kind,
                validator_id=t.validator_id,
                is_transfer=t.is_transfer,
                fare_charged=t.fare_charged,
                fare_kind=t.fare_kind,
            )
            for t, code in rows
        ],
        page=page.info(len(rows)),
    )
