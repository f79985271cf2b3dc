"""The revoked tokens a worker refuses: token ids, and per account a time before which every
token it was issued is refused.

A worker checks them in memory with every token it reads, cached verifications included (no
round trip per request). The list lives in PostgreSQL; accounts.revocations loads what is in
force into each worker every `revocation_refresh_s` and adds a revocation made by this worker
at once. Redis plays no part: a revocation holds whether Redis is up, down or wiped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# One revocation: the account, the one token's id (None: all of the account's), and the time
# before which every token it was issued is refused (a Unix time; None: one token only).
Revocation = tuple[int, str | None, float | None]


class RevokedTokens:
    def __init__(self) -> None:
        self._token_ids: frozenset[str] = frozenset()
        self._issued_before: Mapping[int, float] = {}

    def refuses(self, token_id: str | None, account_id: int, issued_at: float) -> bool:
        if token_id is not None and token_id in self._token_ids:
            return True
        before = self._issued_before.get(account_id)
        return before is not None and issued_at < before

    def replace(self, revocations: Iterable[Revocation]) -> None:
        """Everything in force now, as loaded from the database."""
        token_ids: set[str] = set()
        issued_before: dict[int, float] = {}
        for account_id, token_id, before in revocations:
            if token_id is not None:
                token_ids.add(token_id)
            if before is not None:
                issued_before[account_id] = _latest(issued_before, account_id, before)
        self._token_ids, self._issued_before = frozenset(token_ids), issued_before

    def add(self, revocation: Revocation) -> None:
        """One revocation this worker just committed, before the next load brings it. The
        sets are replaced, not changed: a request reading them meanwhile sees one or the
        other."""
        account_id, token_id, before = revocation
        if token_id is not None:
            self._token_ids = self._token_ids | {token_id}
        if before is not None:
            latest = _latest(self._issued_before, account_id, before)
            self._issued_before = {**self._issued_before, account_id: latest}


def _latest(issued_before: Mapping[int, float], account_id: int, before: float) -> float:
    """Of two revocations of all of an account's tokens, the later refuses more."""
    return max(issued_before.get(account_id, before), before)
