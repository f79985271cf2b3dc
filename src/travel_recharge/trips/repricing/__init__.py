"""Repricing: a tap that arrives late (an offline validator's) may change what the later taps
of its card should have cost. History is never rewritten: the later trips keep their rows,
each change is recorded (repricings), and one adjustment ledger entry settles the difference
and names the late tap; later taps are priced against the repriced kinds and fares."""
