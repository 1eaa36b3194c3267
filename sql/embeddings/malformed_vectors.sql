-- Vectors of one kind and model (in some buckets) whose size differs from the registry's, or that are zero / NaN.
SELECT count(*) FILTER (WHERE vector_dims(embedding) <> %(dims)s)        AS wrong_dimensions,
       count(*) FILTER (WHERE NOT (vector_norm(embedding) > 0))          AS zero_or_nan
FROM movrec.item_embeddings
WHERE item_kind = %(kind)s AND model_id = %(model_id)s AND bucket = ANY(%(buckets)s);
