"""Riders: the people who own personalized cards."""
