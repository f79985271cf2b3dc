"""The money path: fare policies, cards, recharges, trips (taps), ledger, idempotency records.

Every change of a card's balance appends one ledger entry carrying the balance after it, in
the same transaction; entries are never updated or deleted (a trigger enforces it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base


class FarePolicyRow(Base):
    """One version of the fare policy; `document` is fares.policy.policy_to_dict's shape."""

    __tablename__ = "fare_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint("card_type IN ('basic', 'personalized')", name="card_type"),
        CheckConstraint(
            "status IN ('active', 'blocked', 'replaced', 'deactivated')", name="status"
        ),
        CheckConstraint(
            "(card_type = 'personalized') = (user_id IS NOT NULL)", name="owner_iff_personalized"
        ),
        CheckConstraint("credit_trips_in_use >= 0", name="credit_trips_in_use"),
        # One personalized card in use per person; a replaced or deactivated one no longer counts.
        Index(
            "uq_cards_personalized_user",
            "user_id",
            unique=True,
            postgresql_where=text("status IN ('active', 'blocked')"),
        ),
        # Every card of a person, replaced ones too: monthly benefit trips are the person's.
        Index("ix_cards_user_id", "user_id", postgresql_where=text("user_id IS NOT NULL")),
        # The simulator's cards are few: analytics leave them out with an anti-join on this
        # index, and the simulator finds its riders through it.
        Index("ix_cards_simulated", "id", postgresql_where=text("simulated")),
        # The deny list's snapshot: the cards refused (migration 0017).
        Index("ix_cards_denied", "id", postgresql_where=text("status <> 'active'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_number: Mapped[str] = mapped_column(String(16), unique=True)
    card_type: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), server_default="active")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    profile: Mapped[str | None] = mapped_column(String(40))
    balance: Mapped[int] = mapped_column(BigInteger, server_default="0")
    credit_trips_in_use: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    status_reason: Mapped[str | None] = mapped_column(String(200))
    replaced_by_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A card of the traffic simulator's riders (migration 0006). Its trips, recharges and
    # ledger entries are simulated with it: analytics leave them out unless asked for, and
    # only they may be deleted (by the simulator's clean-up).
    simulated: Mapped[bool] = mapped_column(Boolean, server_default="false")


class DenyListChange(Base):
    """A card turned refused (denied) or usable again; written only by the cards trigger of
    migration 0017, which numbers the versions in commit order."""

    __tablename__ = "deny_list_changes"
    # Whether a card was refused when an offline validator read it (migration 0021).
    __table_args__ = (Index("ix_deny_list_changes_card_id_version", "card_id", "version"),)

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_id: Mapped[int] = mapped_column(BigInteger)  # no foreign key: see migration 0017
    denied: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Recharge(Base):
    __tablename__ = "recharges"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_recharges_card_id_created_at", "card_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    recharge_point_id: Mapped[int] = mapped_column(ForeignKey("recharge_points.id"))
    channel: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    credit_repaid: Mapped[int] = mapped_column(BigInteger)
    new_balance: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The account whose request made this row (null for rows made by no request: the seed
    # generator, fixtures). Not indexed: nothing looks rows up by account, and every tap
    # would pay for the index.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class Trip(Base):
    """A priced tap (the boarding) and, once known, where the rider left."""

    __tablename__ = "trips"
    __table_args__ = (
        CheckConstraint("fare_charged >= 0", name="fare_not_negative"),
        CheckConstraint(
            "fare_kind IN ('full', 'transfer', 'credit', 'free_trip', 'reduced_fare')",
            name="fare_kind",
        ),
        Index("ix_trips_card_id_event_time", "card_id", "event_time"),
        Index("ix_trips_card_id_validator_id_event_time", "card_id", "validator_id", "event_time"),
        # Trips by time for the live dashboard (migration 0005): card_id makes the taps per
        # minute and the distinct cards of today index-only scans.
        Index("ix_trips_event_time", "event_time", postgresql_include=["card_id"]),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tap_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    validator_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"))
    service_kind: Mapped[str] = mapped_column(String(10))
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    fare_policy_id: Mapped[int] = mapped_column(ForeignKey("fare_policies.id"))
    fare_charged: Mapped[int] = mapped_column(BigInteger)
    fare_kind: Mapped[str] = mapped_column(String(14))
    is_transfer: Mapped[bool] = mapped_column(Boolean)
    credit_used: Mapped[bool] = mapped_column(Boolean)
    benefit_trip_used: Mapped[bool] = mapped_column(Boolean)
    transfers_in_window: Mapped[int] = mapped_column(SmallInteger)
    window_anchor: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    balance_after: Mapped[int] = mapped_column(BigInteger)
    end_station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The account whose request made this row (null for rows made by no request: the seed
    # generator, fixtures). Not indexed: nothing looks rows up by account, and every tap
    # would pay for the index.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('recharge', 'fare', 'credit_repayment', 'balance_transfer', 'adjustment')",
            name="kind",
        ),
        Index("ix_ledger_entries_card_id_id", "card_id", "id"),
        # Exports read the entries of a time range that are not fares (migration 0008); fares
        # are read from trips by event time. Partial, so the tap path never maintains it.
        Index(
            "ix_ledger_entries_created_at_not_fare",
            "created_at",
            postgresql_where=text("kind <> 'fare'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)  # signed: credits > 0, charges < 0
    balance_after: Mapped[int] = mapped_column(BigInteger)
    recharge_id: Mapped[int | None] = mapped_column(ForeignKey("recharges.id"))
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("trips.id"))
    counterpart_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The account whose request made this row (null for rows made by no request: the seed
    # generator, fixtures). Not indexed: nothing looks rows up by account, and every tap
    # would pay for the index.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class IdempotencyRecord(Base):
    """The stored answer of a money-moving request, keyed by the client's Idempotency-Key."""

    __tablename__ = "idempotency_records"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
