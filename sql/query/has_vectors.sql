-- Whether one kind has any vector under one model.
SELECT EXISTS (SELECT 1 FROM movrec.item_embeddings WHERE item_kind = %(kind)s AND model_id = %(model_id)s);
