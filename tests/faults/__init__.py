"""Fault-test support: servers of a test's own to break (postgres, silent), devices that
load and retry (load), the smallest world they need (world), and the checker that compares
what clients were told with what the database holds (checker)."""
