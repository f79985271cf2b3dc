"""Trips: taps priced by the fare policy, trip ends, and a card's trips."""
