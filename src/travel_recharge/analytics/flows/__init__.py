"""Where trips go: origin-destination matrices by trip chaining, and transfer flows.

The destinations are inferred once per finished local day by a job in a process of its own
(job.py; workers only start it), which stores per-day counts; the API sums those counts for a
date range and a time band, so no request reads trips.
"""
