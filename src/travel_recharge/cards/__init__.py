"""Cards: issuing, balances, recharges, blocking and replacement."""
