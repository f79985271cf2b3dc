"""The ledger: every balance change is an appended entry carrying the balance after it."""

from __future__ import annotations

from travel_recharge.finance import repository
from travel_recharge.finance.schemas import (
    CardLedgerOut,
    LedgerEntryOut,
    LedgerMismatch,
    LedgerVerification,
)
from travel_recharge.kit.db import ReadSession
from travel_recharge.kit.pagination import Page

append_entry = repository.append
append_entries_sql = repository.append_entries_sql
append_entry_sql = repository.append_entry_sql


async def card_ledger(session: ReadSession, card_id: int, page: Page) -> CardLedgerOut:
    entries = await repository.entries_of_card(session, card_id, page.limit, page.offset)
    return CardLedgerOut(
        card_id=card_id,
        entries=[
            LedgerEntryOut(
                entry_id=e.id,
                kind=e.kind,
                amount=e.amount,
                balance_after=e.balance_after,
                recharge_id=e.recharge_id,
                trip_id=e.trip_id,
                counterpart_card_id=e.counterpart_card_id,
                note=e.note,
                created_at=e.created_at,
            )
            for e in entries
        ],
        page=page.info(len(entries)),
    )


async def verify_ledger(session: ReadSession) -> LedgerVerification:
    """Every card whose stored balance differs from its ledger (expected: none)."""
    rows = await repository.mismatched_cards(session)
    mismatches = [
        LedgerMismatch(
            card_id=card_id,
            stored_balance=balance,
            ledger_sum=int(ledger_sum),
            last_balance_after=last,
        )
        for card_id, balance, ledger_sum, last in rows
    ]
    return LedgerVerification(
        ok=not mismatches,
        cards_checked=await repository.count_cards(session),
        mismatches=mismatches,
    )


async def count_ledger_mismatches(session: ReadSession) -> int:
    """How many cards' stored balance differs from their ledger (the alerting gauge)."""
    return len(await repository.mismatched_cards(session))
