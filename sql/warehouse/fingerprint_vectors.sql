-- Digest of the vectors of one kind and model (optionally of some buckets): which items, embedded from which text.
SELECT md5(coalesce(string_agg(item_key || ':' || text_hash, ',' ORDER BY item_key), ''))
  FROM movrec.item_embeddings
 WHERE item_kind = %(kind)s AND model_id = %(model_id)s
   AND (%(buckets)s::int[] IS NULL OR bucket = ANY(%(buckets)s::int[]))
