"""Travel Recharge: the backend of a transit smart card (Bogotá SITP / TransMilenio reference)."""
