-- Vectors stored under one model.
SELECT count(*) FROM movrec.item_embeddings WHERE model_id = %s;
