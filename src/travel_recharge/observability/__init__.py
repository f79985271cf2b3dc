"""Prometheus metrics: HTTP traffic, cache, database pool and the money path, at /metrics.

Workers of one launcher write their samples to files in PROMETHEUS_MULTIPROC_DIR (set by
`travel-recharge serve`), so one scrape of any worker reports the whole service. Without
that variable (tests, tools) the process' own registry is used.
"""
