"""SQL of the fares feature: the versioned fare-policy rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, cast, literal_column, select

from travel_recharge.kit.db import ReadSession
from travel_recharge.models import FarePolicyRow


async def policy_row_at(session: ReadSession, at: datetime) -> tuple[int, str, str] | None:
    """(id, row version, document as JSON text) of the policy in force at `at`."""
    result = (
        await session.execute(
            select(
                FarePolicyRow.id,
                literal_column("xmin::text", type_=Text),
                cast(FarePolicyRow.document, Text),
            )
            .where(FarePolicyRow.effective_from <= at)
            .order_by(FarePolicyRow.effective_from.desc())
            .limit(1)
        )
    ).first()
    if result is None:
        return None
    policy_id, version, document = result
    return int(policy_id), str(version), str(document)


def policy_in_force_sql(at: str) -> str:
    """The policy in force at `at` as a subquery (id, row version, document as JSON text, and
    its transfer window in seconds, which the tap's history query bounds itself by) for a
    driver-level statement that reads it beside its own rows; `at` is one of that
    statement's bind parameters, never a value."""
    return (
        "SELECT id, xmin::text AS version, document::text AS document,"  # noqa: S608
        " (document->>'transfer_window_seconds')::int AS transfer_window_s FROM fare_policies"
        f" WHERE effective_from <= {at} ORDER BY effective_from DESC LIMIT 1"
    )


async def all_policy_rows(session: ReadSession) -> list[FarePolicyRow]:
    rows = await session.scalars(select(FarePolicyRow).order_by(FarePolicyRow.effective_from))
    return list(rows)
