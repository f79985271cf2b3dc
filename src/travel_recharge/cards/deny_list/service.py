"""The deny list's rules: a delta when the validator's version is recent enough, otherwise
the whole list."""

from __future__ import annotations

from travel_recharge.cards.deny_list import repository
from travel_recharge.cards.deny_list.schemas import DenyListOut
from travel_recharge.kit.db import ReadSession


async def deny_list(session: ReadSession, since: int | None, max_changes: int) -> DenyListOut:
    """The changes after version `since`; the whole list when the validator holds none, when
    more than `max_changes` changes came after its version (the list is shorter), or when its
    version is ahead of the list's (a database restored from a backup: its list may lack
    changes the validator saw)."""
    recent = since is not None and (
        await repository.changes_since(session, since, max_changes) <= max_changes
    )
    if since is not None and recent:
        state = await repository.delta(session, since)
        if since <= state.version:
            return DenyListOut(
                kind="delta",
                version=state.version,
                since=since,
                added=state.added,
                removed=state.removed,
            )
    state = await repository.snapshot(session)
    return DenyListOut(
        kind="snapshot", version=state.version, since=None, added=state.added, removed=[]
    )
