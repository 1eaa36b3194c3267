-- Valid vector indexes on movrec.item_embeddings with their access method and size.
SELECT c.relname AS index_name, am.amname AS method, pg_relation_size(c.oid) AS bytes
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_am am ON am.oid = c.relam
 WHERE i.indrelid = 'movrec.item_embeddings'::regclass AND i.indisvalid AND am.amname IN ('hnsw', 'ivfflat')
 ORDER BY c.relname DESC
