"""The warehouse: connections, the embedded server, named SQL files, bulk table writes and vector reads (no Dagster)."""
