"""Service alerts: written by operators, read with a station or route."""
