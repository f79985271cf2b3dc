"""Fare policies as stored in the database: the one in force at an instant, and the history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from travel_recharge.fares import repository
from travel_recharge.fares.errors import NoFarePolicyInForce
from travel_recharge.fares.policy import FarePolicy, policy_from_dict
from travel_recharge.fares.schemas import FarePolicyOut, FaresOut
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.views import Reads


@dataclass(frozen=True)
class PolicyInForce:
    id: int
    policy: FarePolicy


# For statements of other features that read the policy in force beside their own rows
# (taps, recharges); they hand the row's columns to require_policy.
policy_in_force_sql = repository.policy_in_force_sql


async def policy_at(session: ReadSession, at: datetime) -> PolicyInForce:
    """The policy that prices an event at `at` (422 when no policy was in force yet)."""
    row = await repository.policy_row_at(session, at)
    if row is None:
        raise NoFarePolicyInForce(at)
    return parse_policy(*row)


def require_policy(
    policy_id: int | None, version: str | None, document: str | None, at: datetime
) -> PolicyInForce:
    """The parsed policy of the row (id, row version, document) read for `at`, as a driver
    statement hands it (all None when no policy was in force: 422)."""
    if policy_id is None or version is None or not document:
        raise NoFarePolicyInForce(at)
    return parse_policy(policy_id, version, document)


@lru_cache(maxsize=64)
def parse_policy(policy_id: int, version: str, document: str) -> PolicyInForce:
    """A stored policy parsed once per row version (`version` is the row's xmin, which
    changes if an operator edits the row), so taps do not re-parse it every time."""
    return PolicyInForce(id=policy_id, policy=policy_from_dict(json.loads(document)))


async def overview_view(reads: Reads) -> bytes:
    """The policy in force now and every version; bounded by its TTL (policies change rarely
    and each names its start)."""
    return await reads.view(
        "fares",
        "overview",
        reads.settings.cache_ttl_fares_s,
        lambda session: fares_overview(session, datetime.now(UTC)),
        stale_ok=True,
    )


async def fares_overview(session: ReadSession, now: datetime) -> FaresOut:
    rows = await repository.all_policy_rows(session)
    history = [FarePolicyOut(id=row.id, **row.document) for row in rows]
    in_force = [p for p, row in zip(history, rows, strict=True) if row.effective_from <= now]
    return FaresOut(in_force=in_force[-1] if in_force else None, history=history)
