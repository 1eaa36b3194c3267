"""Vectors the queries read: by key, and nearest neighbours through the (kind, model) index."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from movrec_pipeline.query.models import Model
from movrec_pipeline.query.session import MAX_K
from movrec_pipeline.warehouse import index_tuning, sqlfiles, vector_index, vectors


def vectors_for(conn: psycopg.Connection, kind: str, model_id: int, keys: Iterable[str]) -> dict[str, np.ndarray]:
    """Vectors of some items (missing items are left out)."""
    rows = conn.execute(sqlfiles.load("query/vectors"),
                        {"kind": kind, "model_id": model_id, "keys": list(keys)}, binary=True).fetchall()
    return {key: as_array(vec) for key, vec in rows}


def as_array(vec: object) -> np.ndarray:
    return vec.to_numpy().astype(np.float32) if hasattr(vec, "to_numpy") else np.asarray(vec, dtype=np.float32)


def unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-12 and np.isfinite(norm) else v


@dataclass(frozen=True)
class Neighbours:
    """Result of one kNN query: (item_key, cosine distance) nearest first, and the index that served it."""

    rows: list[tuple[str, float]]
    index: str | None
    exact_fallback: bool = False  # an index exists but could not reach the recall floor: searched exactly


def knn(conn: psycopg.Connection, kind: str, model: Model, query: np.ndarray, k: int) -> Neighbours:
    """``ORDER BY embedding::vector(d) <=> q LIMIT k`` through the (kind, model) HNSW/IVFFlat index if any.

    The search depth is the one the index asset tuned to the recall floor (``movrec.vector_index_settings``), raised
    to ``k`` (pgvector caps it at 1000; iterative scans fetch the rest), set for this transaction only. When the
    asset found no setting that reaches the floor, the query searches exactly instead. On small catalogues the
    planner prefers the primary key plus a sort; sorting is switched off for this statement when an index serves.
    """
    index = vector_index.current_index(conn, kind, model.model_id)
    tuned = index_tuning.search_settings(conn, kind, model.model_id) if index else None
    exact = index is None or (tuned is not None and tuned.exact)
    ef, probes = (tuned.ef_search or 40, tuned.probes or 1) if tuned else (200, 10)
    vectors.set_search_params(conn, min(k, MAX_K), ef, probes)
    if exact and index:
        conn.execute("SET LOCAL enable_indexscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
    elif index:
        conn.execute("SET LOCAL enable_sort = off")
    rows = conn.execute(vectors.knn_query(model.dimensions, kind, model.model_id), {  # planned now, never from a
        "q": np.asarray(query, dtype=np.float32), "k": k}, prepare=False).fetchall()  # cache: the SETs above apply
    for setting in ("enable_sort", "enable_indexscan", "enable_bitmapscan"):
        conn.execute(sql.SQL("SET LOCAL {} TO DEFAULT").format(sql.Identifier(setting)))
    ordered = sorted(((str(key), float(dist)) for key, dist in rows if dist == dist), key=lambda r: r[1])
    return Neighbours(ordered, None if exact else index, exact_fallback=bool(index and exact))


def index_label(index: str | None, exact_fallback: bool = False) -> str:
    if exact_fallback:
        return "exact scan (the index could not reach its recall floor)"
    if not index:
        return "exact scan (no vector index for this model)"
    method = "HNSW" if "_hnsw_" in index else "IVFFlat" if "_ivfflat_" in index else "index"
    return f"{method} index {index}"
