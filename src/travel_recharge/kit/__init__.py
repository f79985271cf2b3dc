"""The ground floor: what every feature stands on, importing no feature.

Configuration, database engines and sessions, the Redis cache, errors, logs, pagination,
HTTP caching, hardening, idempotency records and metric primitives.
"""
