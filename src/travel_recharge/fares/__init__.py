"""Fares: versioned fare policies as data and the pure engine that prices taps and recharges."""
