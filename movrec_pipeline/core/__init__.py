"""Settings read from the environment and the error types every layer shares (no Dagster)."""
