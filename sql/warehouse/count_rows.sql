-- Rows of one table (named by identifier).
SELECT count(*) FROM {table};
