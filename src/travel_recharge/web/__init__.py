"""The web pages: dashboard, route explorer and cache monitor (static files that call the API)."""
