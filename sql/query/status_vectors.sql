-- Vectors per item kind and model, with the newest write.
SELECT e.item_kind, e.model_id, m.provider, m.model, m.dimensions, count(*)::integer AS vectors,
       max(e.embedded_at) AS embedded_at
  FROM movrec.item_embeddings e
  JOIN movrec.embedding_models m USING (model_id)
 GROUP BY e.item_kind, e.model_id, m.provider, m.model, m.dimensions
 ORDER BY e.item_kind, e.model_id
