-- Text hash of every stored vector of one kind and model within some buckets.
SELECT item_key, text_hash
FROM movrec.item_embeddings
WHERE item_kind = %(kind)s AND model_id = %(model_id)s AND bucket = ANY(%(buckets)s);
