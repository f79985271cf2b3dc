"""The revoked tokens a worker refuses: token ids, and per account a time before which every
token it was issued is refused.

A worker checks them in memory with every token it reads, cached verifications included (no
round trip per request). The list lives in PostgreSQL; accounts.revocations loads what is in
force into each worker every `revocation_refresh_s` and adds a revocation made by this worker
at once. Redis plays no part: a revocation holds whether Redis is up, down or wiped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class RevokedTokens:
    def __init__(self) -> None:
        self._token_ids: frozenset[str] = frozenset()
        self._issued_before: Mapping[int, float] = {}

    def refuses(self, token_id: str | None, account_id: int, issued_at: float) -> bool:
        if token_id is not None and token_id in self._token_ids:
            return True
        before = self._issued_before.get(account_id)
        return before is not None and issued_at < before

    def replace(self, token_ids: Iterable[str], issued_before: Mapping[int, float]) -> None:
        """Everything in force now, as loaded from the database."""
        self._token_ids, self._issued_before = frozenset(token_ids), dict(issued_before)

    def add(self, token_id: str | None, account_id: int, issued_before: float | None) -> None:
        """One revocation this worker just committed, before the next load brings it."""
        if token_id is not None:
            self._token_ids = self._token_ids | {token_id}
        if issued_before is not None:
            known = self._issued_before.get(account_id, issued_before)
            self._issued_before = {**self._issued_before, account_id: max(known, issued_before)}
