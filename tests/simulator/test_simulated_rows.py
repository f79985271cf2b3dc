"""Simulated rows on the money path: simulated money stays among simulated cards and points
of sale, what a simulated card begets is simulated, and only the clean-up may delete the
ledger entries of simulated cards."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from tests.conftest import Network, count_rows
from tests.money import balance, new_card, new_user, recharge
from tests.simulator.conftest import Simulated, make_simulated
from travel_recharge.simulator import world

pytestmark = pytest.mark.usefixtures("network")


@pytest.fixture
async def simulated(app: FastAPI) -> Simulated:
    return await make_simulated(app, riders=4)


async def test_provisioning_funds_each_new_card_once_at_a_simulated_point(
    app: FastAPI, client: httpx.AsyncClient, simulated: Simulated
) -> None:
    assert len(simulated.cards) == 4
    assert len(simulated.points) == world.POINTS_OF_SALE
    # 70% personalized: their riders are simulated too.
    assert len(simulated.riders) == 3
    async with app.state.database.primary.connect() as connection:
        rows = (
            await connection.exec_driver_sql(
                "SELECT r.card_id, r.recharge_point_id, r.amount, c.balance FROM recharges r"
                " JOIN cards c ON c.id = r.card_id ORDER BY r.card_id"
            )
        ).all()
    assert [row.card_id for row in rows] == simulated.cards
    assert all(row.recharge_point_id in simulated.points for row in rows)
    assert all(row.amount == row.balance > 0 for row in rows)
    # Through the recharge path: each with its ledger entry, so every balance verifies.
    report = (await client.get("/api/v1/admin/ledger/verify")).json()
    assert (report["ok"], report["cards_checked"]) == (True, 4)


async def test_simulated_money_never_mixes_with_real_cards_or_points(
    app: FastAPI, client: httpx.AsyncClient, network: Network, simulated: Simulated
) -> None:
    real_card = await new_card(client)
    fake_point = simulated.points[0]
    refused = await recharge(client, real_card, 10_000, point=fake_point)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == (
        f"recharge_point_id: recharge point {fake_point} belongs to the traffic simulator; "
        "only its simulated cards are recharged there"
    )
    fake_card = simulated.cards[0]
    before = await balance(client, fake_card)
    refused = await recharge(client, fake_card, 10_000, point=network.counter)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == (
        f"recharge_point_id: recharge point {network.counter} is a real point of sale; "
        f"card {fake_card} is a simulated card"
    )
    assert await balance(client, real_card) == 0
    assert await balance(client, fake_card) == before
    assert await count_rows(app, "recharges") == len(simulated.cards)
    # Each with its own kind, as the simulator recharges.
    assert (await recharge(client, fake_card, 10_000, point=fake_point)).status_code == 201
    assert (await recharge(client, real_card, 10_000, point=network.counter)).status_code == 201


async def test_what_a_simulated_card_or_rider_begets_is_simulated(
    app: FastAPI, client: httpx.AsyncClient, simulated: Simulated
) -> None:
    # A personalized card replaced: the new card carries simulated money, so it is simulated.
    async with app.state.database.primary.connect() as connection:
        personalized = (
            await connection.exec_driver_sql(
                "SELECT id FROM cards WHERE simulated AND card_type = 'personalized'"
                " ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    replaced = await client.post(
        f"/api/v1/cards/{personalized}/replace", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert replaced.status_code == 201, replaced.text
    new_card_id = replaced.json()["new_card"]["card_id"]
    # A card issued to a simulated rider (once their own is retired) is simulated too; a
    # real rider's is not.
    async with app.state.database.primary.begin() as connection:
        rider = (
            await connection.exec_driver_sql(
                "UPDATE cards SET status = 'deactivated' WHERE id = (SELECT id FROM cards"
                " WHERE simulated AND user_id IS NOT NULL AND id NOT IN ($1, $2) LIMIT 1)"
                " RETURNING user_id",
                (personalized, new_card_id),
            )
        ).scalar_one()
    issued = await client.post(
        "/api/v1/cards", json={"card_type": "personalized", "user_id": rider}
    )
    real_rider = await new_user(client)
    real = await client.post(
        "/api/v1/cards", json={"card_type": "personalized", "user_id": real_rider}
    )
    assert issued.status_code == real.status_code == 201, (issued.text, real.text)
    async with app.state.database.primary.connect() as connection:
        flags = dict(
            (
                await connection.exec_driver_sql(
                    "SELECT id, simulated FROM cards WHERE id = ANY($1::bigint[])",
                    ([new_card_id, issued.json()["card_id"], real.json()["card_id"]],),
                )
            ).all()
        )
    assert flags == {
        new_card_id: True,
        issued.json()["card_id"]: True,
        real.json()["card_id"]: False,
    }


async def test_riders_are_never_sent_to_a_simulated_point_of_sale(
    client: httpx.AsyncClient, network: Network, simulated: Simulated
) -> None:
    listed = (await client.get("/api/v1/recharge-points", params={"limit": 500})).json()
    ids = [point["recharge_point_id"] for point in listed["recharge_points"]]
    assert ids == [network.counter, network.web_point]


async def test_only_a_purging_transaction_deletes_ledger_entries_and_only_of_simulated_cards(
    app: FastAPI, client: httpx.AsyncClient, network: Network, simulated: Simulated
) -> None:
    real_card = await new_card(client)
    assert (await recharge(client, real_card, 5_000, point=network.counter)).status_code == 201
    purging = "SELECT set_config('travel_recharge.purge_simulated', 'on', true)"
    cases = [
        ([], simulated.cards[0]),  # a simulated card's, without saying so
        ([purging], real_card),  # a real card's, whatever the transaction says
    ]
    for setup, card_id in cases:
        async with app.state.database.primary.connect() as connection:
            for statement in setup:
                await connection.exec_driver_sql(statement)
            delete = "DELETE FROM ledger_entries WHERE card_id = $1"
            with pytest.raises(DBAPIError, match="append-only"):
                await connection.exec_driver_sql(delete, (card_id,))
    # Saying so, a simulated card's entries may go (the clean-up deletes the card with them).
    async with app.state.database.primary.begin() as connection:
        await connection.exec_driver_sql(purging)
        deleted = await connection.exec_driver_sql(
            "DELETE FROM ledger_entries WHERE card_id = $1", (simulated.cards[0],)
        )
        assert deleted.rowcount == 1
        await connection.rollback()
    assert await count_rows(app, "ledger_entries") == len(simulated.cards) + 1
