-- Vectors of some items of one kind and model.
SELECT item_key, embedding
  FROM movrec.item_embeddings
 WHERE item_kind = %(kind)s AND model_id = %(model_id)s AND item_key = ANY(%(keys)s)
