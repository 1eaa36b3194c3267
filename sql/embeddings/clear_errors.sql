-- Items that were embedded after failing before.
DELETE FROM movrec.embedding_errors
WHERE item_kind = %(kind)s AND model_id = %(model_id)s AND item_key = ANY(%(keys)s);
