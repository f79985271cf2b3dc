"""Accounts of people and devices: tokens, creation, deactivation, demo accounts.

Above cards and users (a rider account names its user; /auth/me lists the rider's cards),
while security below holds only the primitives every feature uses: tokens, roles, access
rules and rate limits.
"""
