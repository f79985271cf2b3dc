"""Bounds of ids: PostgreSQL's BIGINT and INTEGER. A larger number is a 422, never a driver
error (asyncpg refuses to bind an out-of-range value, which would surface as a 500)."""

MAX_ID = 2**63 - 1  # BIGINT ids: cards, users, trips, recharges, accounts
MAX_INT_ID = 2**31 - 1  # INTEGER ids: stations, routes, alerts, recharge points
