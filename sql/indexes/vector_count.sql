-- Vectors an index of one kind and model will cover.
SELECT count(*) FROM movrec.item_embeddings WHERE item_kind = %(kind)s AND model_id = %(model_id)s;
