-- Which warehouse this is: the oids of the database and of its movrec schema (a recreated one has others).
SELECT d.oid::text || '/' || n.oid::text
  FROM pg_database d, pg_namespace n
 WHERE d.datname = current_database() AND n.nspname = 'movrec'
