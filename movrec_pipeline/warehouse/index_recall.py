"""Recall and latency of a pgvector index against exact search, on profile-like queries."""

from __future__ import annotations

import time
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Measurement:
    """One setting's figures on the probe's queries."""

    recall: float
    p50_ms: float
    p95_ms: float
    uses_index: bool
    queries: int


class RecallProbe:
    """Profile-like queries of one kind and model with their exact top-k (computed once), to measure the index
    path (``ORDER BY <=> LIMIT k``) at any search setting."""

    def __init__(self, conn: psycopg.Connection, kind: str, model_id: int, dimensions: int, *, n_queries: int = 200,
                 k: int = 10, seed: int = 0) -> None:
        self.kind, self.model_id, self.dimensions, self.k = kind, model_id, dimensions, k
        keys, matrix = vectors.fetch_vectors(conn, kind, model_id, dimensions)
        self.items = len(keys)
        self.queries = profile_queries(matrix, n_queries, seed=seed) if len(keys) else np.zeros((0, dimensions))
        exact, _ = cosine_topk(self.queries, matrix, k) if len(keys) else (np.zeros((0, k), int), None)
        self.truth = [{keys[j] for j in row} for row in exact]

    def measure(self, conn: psycopg.Connection, ef_search: int = 40, probes: int = 1) -> Measurement:
        """recall@k and latency of the index at ``ef_search`` (HNSW) / ``probes`` (IVFFlat), in one transaction."""
        if not self.items:
            return Measurement(0.0, 0.0, 0.0, False, 0)
        query = vectors.knn_query(self.dimensions, self.kind, self.model_id)
        params = {"k": self.k}
        hits, latencies = 0, []
        with conn.transaction():
            vectors.set_search_params(conn, self.k, ef_search, probes)
            conn.execute("SET LOCAL enable_seqscan = off")  # small catalogues: measure the index, not a seq scan
            conn.execute("SET LOCAL enable_sort = off")  # ... nor a primary-key scan plus a sort
            plan = "\n".join(r[0] for r in conn.execute(
                psycopg.sql.SQL("EXPLAIN ") + query, {**params, "q": self.queries[0]}).fetchall())
            for q, truth in zip(self.queries, self.truth, strict=True):
                t0 = time.perf_counter()
                got = {row[0] for row in conn.execute(query, {**params, "q": q}, prepare=False).fetchall()}
                latencies.append((time.perf_counter() - t0) * 1000)
                hits += len(got & truth)
        return Measurement(hits / (len(self.queries) * min(self.k, self.items)), float(np.percentile(latencies, 50)),
                           float(np.percentile(latencies, 95)),
                           f"Index Scan using {index_prefix(self.kind, self.model_id)}" in plan, len(self.queries))


def measure_recall(conn: psycopg.Connection, kind: str, model_id: int, dimensions: int, *, n_queries: int = 200,
                   k: int = 10, ef_search: int = 200, probes: int = 10) -> dict[str, float | int | bool]:
    """recall@k of the index path versus exact cosine top-k in NumPy, at one setting."""
    found = RecallProbe(conn, kind, model_id, dimensions, n_queries=n_queries, k=k).measure(conn, ef_search, probes)
    return {"queries": found.queries, "recall": found.recall, "p50_ms": found.p50_ms, "p95_ms": found.p95_ms,
            "uses_index": found.uses_index}
