"""The deny list's rules: a delta when the validator's version is recent enough, otherwise
the whole list."""

from __future__ import annotations

from travel_recharge.cards.deny_list import repository
from travel_recharge.cards.deny_list.schemas import DenyListOut
from travel_recharge.kit.db import ReadSession

# For an offline validator's taps: refused only if the card was refused when it was read.
denied_at = repository.denied_at


async def deny_list(session: ReadSession, since: int | None, max_changes: int) -> DenyListOut:
    """The changes after version `since`; the whole list when the validator holds none, or
    when the changes are not the better answer (`_delta`)."""
    if since is not None:
        delta = await _delta(session, since, max_changes)
        if delta is not None:
            return delta
    state = await repository.snapshot(session)
    return DenyListOut(
        kind="snapshot", version=state.version, since=None, added=state.added, removed=[]
    )


async def _delta(session: ReadSession, since: int, max_changes: int) -> DenyListOut | None:
    """The changes after `since`; None when more than `max_changes` came after it (the whole
    list is shorter), or when `since` is ahead of the list's version (a database restored from
    a backup: its list may lack changes the validator saw)."""
    if await repository.changes_since(session, since, max_changes) > max_changes:
        return None
    state = await repository.delta(session, since)
    if since > state.version:
        return None
    return DenyListOut(
        kind="delta", version=state.version, since=since, added=state.added, removed=state.removed
    )
