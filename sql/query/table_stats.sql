-- Rows of one table and the newest value of one of its timestamp columns (identifiers fixed in code).
SELECT count(*), max({column}) FROM {table}
