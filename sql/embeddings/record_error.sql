-- One refused item: a new row, one more attempt for the same text, or a fresh count for a changed text.
INSERT INTO movrec.embedding_errors AS e
       (item_kind, model_id, item_key, bucket, text_hash, error_class, message, attempts, first_seen, last_seen)
VALUES (%(kind)s, %(model_id)s, %(key)s, %(bucket)s, %(hash)s, %(error_class)s, %(message)s, 1, now(), now())
ON CONFLICT (item_kind, model_id, item_key) DO UPDATE
   SET attempts   = CASE WHEN e.text_hash = EXCLUDED.text_hash THEN e.attempts + 1 ELSE 1 END,
       first_seen = CASE WHEN e.text_hash = EXCLUDED.text_hash THEN e.first_seen ELSE now() END,
       bucket = EXCLUDED.bucket, text_hash = EXCLUDED.text_hash, error_class = EXCLUDED.error_class,
       message = EXCLUDED.message, last_seen = now();
