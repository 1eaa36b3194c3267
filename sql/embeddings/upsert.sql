-- Move one staged batch into movrec.item_embeddings (same transaction as the COPY).
INSERT INTO movrec.item_embeddings AS e
       (item_kind, model_id, item_key, bucket, text_hash, truncated, embedding, embedded_at)
SELECT %(kind)s, %(model_id)s, item_key, bucket, text_hash, truncated, embedding, now()
  FROM embedding_stage
ON CONFLICT (item_kind, model_id, item_key) DO UPDATE
   SET bucket = EXCLUDED.bucket, text_hash = EXCLUDED.text_hash, truncated = EXCLUDED.truncated,
       embedding = EXCLUDED.embedding, embedded_at = EXCLUDED.embedded_at
