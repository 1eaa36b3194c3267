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


def knn_query(dimensions: int) -> sql.Composed:
    """Index-using nearest neighbours of a query vector within one kind and model (cosine distance).

    Parameters: kind, model_id, query vector, k. The expression and WHERE clause match the partial
    expression indexes built by :mod:`movrec_pipeline.warehouse.vector_index`.
    """
    dim = sql.Literal(int(dimensions))
    return sql.SQL(sqlfiles.load("warehouse/knn")).format(dim=dim)


def set_search_params(conn: psycopg.Connection, k: int, ef_search: int = 200, probes: int = 10) -> None:
    """``hnsw.ef_search`` >= k (it caps the rows an index scan returns) and iterative scans on."""
    conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(max(int(ef_search), int(k)))))
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    conn.execute(sql.SQL("SET ivfflat.probes = {}").format(sql.Literal(int(probes))))
    conn.execute("SET ivfflat.iterative_scan = relaxed_order")
