-- Record the search settings an index was tuned to (one row per kind and model; the newest wins).
INSERT INTO movrec.vector_index_settings AS s
    (item_kind, model_id, index_name, method, build_params, ef_search, probes, recall_at_10, p50_ms, p95_ms,
     recall_floor, exact_fallback, tuned_at)
VALUES (%(kind)s, %(model_id)s, %(index_name)s, %(method)s, %(build_params)s, %(ef_search)s, %(probes)s,
        %(recall)s, %(p50_ms)s, %(p95_ms)s, %(floor)s, %(exact_fallback)s, now())
ON CONFLICT (item_kind, model_id) DO UPDATE SET
    index_name = EXCLUDED.index_name, method = EXCLUDED.method, build_params = EXCLUDED.build_params,
    ef_search = EXCLUDED.ef_search, probes = EXCLUDED.probes, recall_at_10 = EXCLUDED.recall_at_10,
    p50_ms = EXCLUDED.p50_ms, p95_ms = EXCLUDED.p95_ms, recall_floor = EXCLUDED.recall_floor,
    exact_fallback = EXCLUDED.exact_fallback, tuned_at = now();
