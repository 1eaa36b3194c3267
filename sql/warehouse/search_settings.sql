-- The search settings recorded for one kind and model's index, if it was tuned.
SELECT index_name, method, ef_search, probes, recall_at_10, exact_fallback
  FROM movrec.vector_index_settings
 WHERE item_kind = %(kind)s AND model_id = %(model_id)s
