-- Indexes of the same kind and model other than the one just built.
SELECT indexname
FROM pg_indexes
WHERE schemaname = 'movrec' AND tablename = 'item_embeddings'
  AND indexname LIKE %(prefix)s AND indexname <> %(name)s;
