"""Token revocations: an admin revokes one token, or every token of an account, before they
expire. PostgreSQL holds them; every worker loads those in force each `revocation_refresh_s`
and checks them in memory (security.revocations), so a revoked token is refused by the worker
that revoked it at once and by every other within that time, Redis up or down.
"""
