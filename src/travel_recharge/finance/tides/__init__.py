"""TIDES export of the ledger: fare_transactions and devices as CSV, streamed by COPY."""
