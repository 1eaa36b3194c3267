-- Ad-hoc path: top-k Netflix shows per customer profile through the pgvector index (one index scan per
-- customer). {dim} is the model's dimension (a literal: it must match the partial index expression).
SELECT p.customer_id, s.item_key AS show_id, s.distance
  FROM movrec.customer_profiles p
 CROSS JOIN LATERAL (
        SELECT e.item_key, e.embedding::vector({dim}) <=> p.profile::vector({dim}) AS distance
          FROM movrec.item_embeddings e
         WHERE e.item_kind = 'netflix' AND e.model_id = %(model_id)s
         ORDER BY e.embedding::vector({dim}) <=> p.profile::vector({dim})
         LIMIT %(k)s) s
 WHERE p.model_id = %(model_id)s
 ORDER BY p.customer_id, s.distance
