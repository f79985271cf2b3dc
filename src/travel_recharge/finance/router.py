"""Ledger verification for administrators."""

from __future__ import annotations

from fastapi import APIRouter

from travel_recharge.finance import service
from travel_recharge.finance.schemas import LedgerVerification
from travel_recharge.kit.db import ReadSessionDep
from travel_recharge.kit.hardening import StrictJSONRoute
from travel_recharge.security import allow

router = APIRouter(
    prefix="/api/v1/admin/ledger",
    tags=["admin"],
    route_class=StrictJSONRoute,
    dependencies=[allow("admin")],
)


@router.get("/verify", response_model=LedgerVerification)
async def verify_ledger(session: ReadSessionDep) -> LedgerVerification:
    """Every card whose stored balance differs from the sum of its ledger entries."""
    return await service.verify_ledger(session)
