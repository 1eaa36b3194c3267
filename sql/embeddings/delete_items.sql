-- Vectors of items that left the source.
DELETE FROM movrec.item_embeddings
WHERE item_kind = %(kind)s AND model_id = %(model_id)s AND item_key = ANY(%(keys)s);
