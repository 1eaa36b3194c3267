-- Recorded embedding failures of one kind and model within some buckets.
SELECT item_key, text_hash, attempts
FROM movrec.embedding_errors
WHERE item_kind = %(kind)s AND model_id = %(model_id)s AND bucket = ANY(%(buckets)s);
