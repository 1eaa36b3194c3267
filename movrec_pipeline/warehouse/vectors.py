"""Reading vectors back out of ``movrec.item_embeddings`` (binary COPY) and nearest-neighbour SQL."""

from __future__ import annotations

import numpy as np
import psycopg
from psycopg import sql

from movrec_pipeline.warehouse import sqlfiles


def fetch_vectors(conn: psycopg.Connection, kind: str, model_id: int,
                  dimensions: int) -> tuple[list[str], np.ndarray]:
    """All (item_key, vector) of one kind and model, via binary COPY: keys and a (n, d) float32 matrix."""
    keys: list[str] = []
    rows: list[np.ndarray] = []
    query = sql.SQL(sqlfiles.load("warehouse/fetch_vectors")).format(kind=sql.Literal(kind),
                                                                     model_id=sql.Literal(int(model_id)))
    with conn.cursor() as cur, cur.copy(query) as copy:
        copy.set_types(["text", "vector"])
        for key, vec in copy.rows():
            keys.append(key)
            rows.append(vec.to_numpy() if hasattr(vec, "to_numpy") else np.asarray(vec, dtype=np.float32))
    matrix = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dimensions), np.float32)
    return keys, matrix


def knn_query(dimensions: int, kind: str, model_id: int) -> sql.Composed:
    """Index-using nearest neighbours of a query vector within one kind and model (cosine distance).

    Parameters: the query vector ``q`` and ``k``. The expression and the WHERE clause (literals, so that any plan,
    generic or custom, can prove the partial index's predicate) match the indexes of ``warehouse/index_build``.
    """
    return sql.SQL(sqlfiles.load("warehouse/knn")).format(dim=sql.Literal(int(dimensions)), kind=sql.Literal(kind),
                                                          model_id=sql.Literal(int(model_id)))


MAX_EF_SEARCH = 1000  # pgvector's ceiling for hnsw.ef_search


def set_search_params(conn: psycopg.Connection, k: int, ef_search: int = 200, probes: int = 10) -> None:
    """For the current transaction (``SET LOCAL``): ``hnsw.ef_search`` >= k (it caps the rows an index scan
    returns; pgvector allows at most 1000), ``ivfflat.probes``, and iterative scans on (a filter still fills k)."""
    ef = min(max(int(ef_search), int(k)), MAX_EF_SEARCH)
    conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef)))
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    conn.execute(sql.SQL("SET LOCAL ivfflat.probes = {}").format(sql.Literal(int(probes))))
    conn.execute("SET LOCAL ivfflat.iterative_scan = relaxed_order")
