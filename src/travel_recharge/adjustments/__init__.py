"""Adjustments: refunds and corrections of a card's balance under maker-checker control.

An operator proposes one, naming the card, the amount, a reason and what it corrects (a trip
or a recharge); a different operator approves or rejects it; only an approval posts to the
ledger. The workflow touches cards, trips and the ledger, so it is a feature of its own,
above them (DESIGN: a cross-feature workflow lives in the feature that owns it).
"""
