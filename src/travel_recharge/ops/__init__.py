"""Operations: health of the service and its components."""
