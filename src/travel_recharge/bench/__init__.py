"""Benchmarks: measured against a real server, a real PostgreSQL and the machine's ceilings."""
