-- Rows of one table (identifier fixed in code).
SELECT count(*) FROM {table}
