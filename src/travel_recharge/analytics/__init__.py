"""Analytics: totals, localities, revenue, hourly and station figures, all from rollups."""
