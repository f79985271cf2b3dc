"""Offline batches: the taps a validator kept while its link was down, sent together later.

Each tap is applied at most once (its tap_id), priced per card in event-time order against
the taps already known, refused only when its card was on the deny list when it was read,
and charged whatever the balance (the rider already rode): a card driven below what it may
owe is recorded as offline risk and reported.
"""
