"""GTFS identities and timetables: a feed's stop and route ids, and a route's departures.

`stations.gtfs_stop_id` and `routes.gtfs_route_id` remember which feed entity a row came
from, so importing the next version of a feed updates the same rows (same ids, same codes:
trips and alerts keep pointing at them). `routes.departures` holds a route's departures from
its first stop, in seconds after the service day's start (GTFS time: noon minus 12 h, and
past 24:00 for trips after midnight); NULL means the route runs by its band headways. All
three are NULL on every existing row: adding them rewrites no table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("stations", sa.Column("gtfs_stop_id", sa.String(length=255), nullable=True))
    op.create_unique_constraint(op.f("uq_stations_gtfs_stop_id"), "stations", ["gtfs_stop_id"])
    op.add_column("routes", sa.Column("gtfs_route_id", sa.String(length=255), nullable=True))
    op.create_unique_constraint(op.f("uq_routes_gtfs_route_id"), "routes", ["gtfs_route_id"])
    op.add_column("routes", sa.Column("departures", postgresql.ARRAY(sa.Integer()), nullable=True))


def downgrade() -> None:
    op.drop_column("routes", "departures")
    op.drop_constraint(op.f("uq_routes_gtfs_route_id"), "routes", type_="unique")
    op.drop_column("routes", "gtfs_route_id")
    op.drop_constraint(op.f("uq_stations_gtfs_stop_id"), "stations", type_="unique")
    op.drop_column("stations", "gtfs_stop_id")
