"""The metrics summary: /metrics' figures as JSON for the dashboards."""
