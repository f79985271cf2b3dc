"""Rider behaviour: active cards, segments, recharge habits and dormant cards per day.

The daily job (analytics/flows/job.py) keeps each card's trips per finished day and computes a
day's figures once (repository.snapshot); the endpoint reads that one stored row.
"""
