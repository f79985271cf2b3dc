"""Operations: health of the service and its components, and the database figures the
alert rules watch (probes)."""
