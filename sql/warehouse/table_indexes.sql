-- Every index of one table with its definition and, when it backs one, the constraint type (p, u).
SELECT ic.relname AS index_name, pg_get_indexdef(i.indexrelid) AS definition, con.contype::text AS constraint_type
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
WHERE n.nspname = %(schema)s AND t.relname = %(table)s
ORDER BY ic.relname;
