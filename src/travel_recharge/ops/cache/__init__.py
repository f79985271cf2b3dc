"""Cache monitoring and administration: figures, keys, the cold-vs-warm test."""
