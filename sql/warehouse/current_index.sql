-- The newest valid vector index whose name starts with a (kind, model) prefix.
SELECT c.relname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'movrec' AND i.indisvalid AND c.relname LIKE %(prefix)s
ORDER BY c.relname DESC
LIMIT 1;
