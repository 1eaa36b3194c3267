-- Every vector of one kind and model (before a derived model, e.g. SVD, is rewritten whole).
DELETE FROM movrec.item_embeddings WHERE item_kind = %(kind)s AND model_id = %(model_id)s;
