"""Bounds of ids. A larger number is a 422, never a driver error (asyncpg refuses to bind an
out-of-range value, which would surface as a 500).

BIGINT ids stop at 2**53 - 1, not PostgreSQL's 2**63 - 1: the interoperable JSON integers
(RFC 7493, I-JSON) and the largest a double holds exactly. Clients and JSON Schema validators
that read numbers as doubles see 2**63 - 1 as 2**63, so a document stating that bound would
call 2**63 + 191 valid while the service refuses it; no sequence comes near either bound.
"""

MAX_ID = 2**53 - 1  # BIGINT ids: cards, users, trips, recharges, accounts
MAX_INT_ID = 2**31 - 1  # INTEGER ids: stations, routes, alerts, recharge points
