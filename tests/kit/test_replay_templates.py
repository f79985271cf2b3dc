"""How a route's path and its view's key are generalised (kit.replay.templates)."""

from __future__ import annotations

from travel_recharge.kit.replay.templates import template_of


def test_a_card_balance_becomes_a_template_for_every_card() -> None:
    template = template_of("/api/v1/cards/12/balance", {"card_id": "12"}, "cards:12", "balance")
    assert template is not None
    assert template.path == "/api/v1/cards/{card_id}/balance"
    assert template.key_of("/api/v1/cards/7/balance") == ("cards:7", "balance", {"card_id": "7"})
    assert template.key_of("/api/v1/cards/7/history") is None
    assert template.key_of("/api/v1/cards/7/8/balance") is None


def test_a_value_in_the_field_is_found_there() -> None:
    template = template_of(
        "/api/v1/stations/02000/details", {"station_code": "02000"}, "stations", "details:02000"
    )
    assert template is not None
    assert template.key_of("/api/v1/stations/09100/details") == (
        "stations",
        "details:09100",
        {"station_code": "09100"},
    )


def test_no_template_when_the_key_does_not_come_from_the_path() -> None:
    # The key uses no parameter: every path of the route would read the same view.
    assert template_of("/api/v1/cards/12/balance", {"card_id": "12"}, "fares", "all") is None
    # Two parameters with one value: which one made the key cannot be told.
    params = {"a": "5", "b": "5"}
    assert template_of("/x/5/y/5", params, "g:5", "f") is None
    # A parameter whose value is no whole segment of the path (a converter changed it).
    assert template_of("/api/v1/cards/0012/balance", {"card_id": "12"}, "cards:12", "f") is None
    # A value that is a whole segment twice (a literal equal to it): ambiguous too.
    assert template_of("/v1/cards/v1", {"card_id": "v1"}, "cards:v1", "balance") is None
