-- Refused items of one kind and model in some buckets, newest first.
SELECT item_key, error_class, message, attempts, attempts >= %(max_attempts)s AS parked, first_seen, last_seen
FROM movrec.embedding_errors
WHERE item_kind = %(kind)s AND model_id = %(model_id)s AND bucket = ANY(%(buckets)s)
ORDER BY last_seen DESC, item_key;
