"""Bounds every id shares: PostgreSQL BIGINT. A larger number is a 422, never a driver error."""

MAX_ID = 2**63 - 1
