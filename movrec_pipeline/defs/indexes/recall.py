"""Recall and latency of a pgvector index against exact search, on profile-like queries."""

from __future__ import annotations

import time

import numpy as np
import psycopg

from movrec_pipeline.ranking.topk import cosine_topk, normalize_rows
from movrec_pipeline.warehouse import vectors
from movrec_pipeline.warehouse.vector_index import index_prefix


def profile_queries(matrix: np.ndarray, n: int, per_query: int = 5, seed: int = 0) -> np.ndarray:
    """``n`` queries shaped like user profiles: the normalised mean of a few random item vectors."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(matrix), size=(n, per_query))
    return normalize_rows(normalize_rows(matrix)[picks].mean(axis=1))


def measure_recall(conn: psycopg.Connection, kind: str, model_id: int, dimensions: int, *, n_queries: int = 200,
                   k: int = 10, ef_search: int = 200, probes: int = 10) -> dict[str, float | int | bool]:
    """recall@k of the index path (``ORDER BY <=> LIMIT k``) versus exact cosine top-k in NumPy."""
    keys, matrix = vectors.fetch_vectors(conn, kind, model_id, dimensions)
    if len(keys) == 0:
        return {"queries": 0, "recall": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "uses_index": False}
    queries = profile_queries(matrix, n_queries)
    exact_idx, _ = cosine_topk(queries, matrix, k)
    vectors.set_search_params(conn, k, ef_search, probes)
    conn.execute("SET enable_seqscan = off")  # small catalogues: measure the index, not a seq scan
    conn.execute("SET enable_sort = off")  # ... nor a primary-key scan plus a sort
    query = vectors.knn_query(dimensions)
    params = {"kind": kind, "model_id": model_id, "k": k}
    plan = "\n".join(r[0] for r in conn.execute(
        psycopg.sql.SQL("EXPLAIN ") + query, {**params, "q": queries[0]}).fetchall())
    hits, latencies = 0, []
    for qi, q in enumerate(queries):
        t0 = time.perf_counter()
        got = {row[0] for row in conn.execute(query, {**params, "q": q}).fetchall()}
        latencies.append((time.perf_counter() - t0) * 1000)
        hits += len(got & {keys[j] for j in exact_idx[qi]})
    conn.execute("RESET enable_seqscan")
    conn.execute("RESET enable_sort")
    return {"queries": len(queries), "recall": hits / (len(queries) * min(k, len(keys))),
            "p50_ms": float(np.percentile(latencies, 50)), "p95_ms": float(np.percentile(latencies, 95)),
            "uses_index": f"Index Scan using {index_prefix(kind, model_id)}" in plan}
