"""Pure ingestion (no Dagster): locate and download source files, parse and repair the CSVs, restore dvdrental,
audit staged tables and publish them (write-audit-publish)."""
