"""The live dashboard: today's figures, the last hour's taps."""
