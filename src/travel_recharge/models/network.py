"""The network: localities, stations, routes and their stops, alerts, recharge points."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from travel_recharge.models.base import Base


class Locality(Base):
    __tablename__ = "localities"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Station(Base):
    """A trunk station, portal, TransMiCable station or zonal stop (kind tells which)."""

    __tablename__ = "stations"
    __table_args__ = (
        CheckConstraint("kind IN ('portal', 'trunk', 'cable', 'zonal')", name="kind"),
        CheckConstraint("code ~ '^[0-9]{5}$'", name="code_five_digits"),
        Index("ix_stations_locality_kind", "locality_code", "kind"),
        Index("ix_stations_kind", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))
    corridor: Mapped[str | None] = mapped_column(String(2))
    locality_code: Mapped[str] = mapped_column(ForeignKey("localities.code"))
    latitude: Mapped[float] = mapped_column(Double)
    longitude: Mapped[float] = mapped_column(Double)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # The stop_id of the GTFS feed it was imported from (migration 0008), else NULL.
    gtfs_stop_id: Mapped[str | None] = mapped_column(String(255), unique=True)


class Route(Base):
    __tablename__ = "routes"
    __table_args__ = (
        CheckConstraint("kind IN ('trunk', 'zonal', 'feeder', 'cable')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Minutes between departures per time band, e.g. {"peak_am": 4, "midday": 8}.
    headways: Mapped[dict[str, int]] = mapped_column(JSONB)
    # The route_id of the GTFS feed it was imported from (migration 0008), else NULL.
    gtfs_route_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Departures from the first stop in seconds after the service day's start (GTFS time,
    # may pass 24:00), from a feed's stop_times or frequencies; NULL: run by `headways`.
    departures: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))


class RouteStop(Base):
    __tablename__ = "route_stops"
    __table_args__ = (Index("ix_route_stops_station_id", "station_id"),)

    route_id: Mapped[int] = mapped_column(
        ForeignKey("routes.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    minutes_from_start: Mapped[int] = mapped_column(Integer)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("station_id IS NOT NULL OR route_id IS NOT NULL", name="has_subject"),
        CheckConstraint("severity IN ('info', 'warning', 'severe')", name="severity"),
        Index("ix_alerts_station_id", "station_id"),
        Index("ix_alerts_route_id", "route_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"))
    severity: Mapped[str] = mapped_column(String(10))
    cause: Mapped[str] = mapped_column(String(40))
    effect: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    active_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    active_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RechargePoint(Base):
    __tablename__ = "recharge_points"
    __table_args__ = (
        CheckConstraint("channel IN ('counter', 'kiosk', 'web')", name="channel"),
        Index("ix_recharge_points_locality_channel", "locality_code", "channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    locality_code: Mapped[str | None] = mapped_column(ForeignKey("localities.code"))
    channel: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # The traffic simulator's own points of sale (migration 0006): only simulated cards are
    # recharged there, and they are not listed to riders.
    simulated: Mapped[bool] = mapped_column(Boolean, server_default="false")
