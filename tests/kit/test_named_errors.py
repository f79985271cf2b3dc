"""Named domain errors: defined once per feature, listed in the routes' documentation."""

from __future__ import annotations

import httpx

from travel_recharge.cards.errors import CardNotActive, CardNotFound
from travel_recharge.kit.errors import error_responses


def test_error_responses_group_named_errors_by_status() -> None:
    responses = error_responses(CardNotFound, CardNotActive, 422)
    assert sorted(responses) == [404, 409, 422]
    assert responses[404]["description"] == "CardNotFound: No card has this id."
    assert responses[409]["description"].startswith("CardNotActive: The card is blocked")
    assert responses[422]["description"] == "Error"


def test_a_named_error_keeps_the_contract_code_and_message() -> None:
    error = CardNotFound(12)
    assert (error.status_code, error.code, error.detail) == (
        404,
        "not_found",
        "card 12 does not exist",
    )


async def test_the_tap_route_documents_each_named_failure(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    responses = document["paths"]["/api/v1/trips/start"]["post"]["responses"]
    assert "CardNotFound" in responses["404"]["description"]
    assert "StationNotFound" in responses["404"]["description"]
    assert "TapIdTaken" in responses["409"]["description"]
    assert "NoFarePolicyInForce" in responses["422"]["description"]
