"""Vectors the queries read: by key, and nearest neighbours through the (kind, model) index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from movrec_pipeline.query import exact_memory
from movrec_pipeline.query.filters import MovieFilter
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
    rescanned: bool = False  # the index scan came back short (a filter): searched exactly for the whole page
    asked_exact: bool = False  # the caller asked for exact search
    in_memory: bool = False  # the exact search ran over the vectors held in memory (query/exact_memory.py)


def knn(conn: psycopg.Connection, kind: str, model: Model, query: np.ndarray, k: int, *,
        where: MovieFilter | None = None, exclude: Sequence[str] = (), exact: bool = False) -> Neighbours:
    """``ORDER BY embedding::vector(d) <=> q LIMIT k`` through the (kind, model) HNSW/IVFFlat index if any.

    The search depth is the one the index asset tuned to the recall floor (``movrec.vector_index_settings``), raised
    to ``k`` (pgvector caps it at 1000; iterative scans fetch the rest), set for this transaction only. When the
    asset found no setting that reaches the floor, or ``exact`` is asked, the query searches exactly instead (in
    memory, :mod:`movrec_pipeline.query.exact_memory`, when the vectors fit; else PostgreSQL scans). On
    small catalogues the planner prefers the primary key plus a sort; sorting is switched off for this statement
    when an index serves. MovieLens searches may carry a filter (``where``) and item keys to leave out
    (``exclude``); a page never comes back short while more items match: when the index scan returns fewer than
    ``k`` rows (an iterative scan gives up after ``hnsw.max_scan_tuples``), the same statement runs exactly.
    """
    index = vector_index.current_index(conn, kind, model.model_id)
    tuned = index_tuning.search_settings(conn, kind, model.model_id) if index else None
    fallback = bool(index and tuned is not None and tuned.exact)
    use_index = bool(index) and not fallback and not exact
    ef, probes = (tuned.ef_search or 40, tuned.probes or 1) if tuned else (200, 10)
    statement, params = _statement(kind, model, query, k, where, exclude)
    rows = _run(conn, statement, params, k, index=index, use_index=True, ef=ef, probes=probes) if use_index else []
    rescanned = use_index and len(rows) < k
    in_memory = False
    if not use_index or rescanned:
        table = exact_memory.loaded(conn, kind, model)
        in_memory = table is not None
        rows = exact_memory.search(table, query, k, where, exclude) if table is not None else \
            _run(conn, statement, params, k, index=index, use_index=False, ef=ef, probes=probes)
    return Neighbours(rows, index if use_index and not rescanned else None, exact_fallback=fallback,
                      rescanned=rescanned, asked_exact=exact and bool(index), in_memory=in_memory)


def _statement(kind: str, model: Model, query: np.ndarray, k: int, where: MovieFilter | None,
               exclude: Sequence[str]) -> tuple[sql.Composed, dict[str, object]]:
    params: dict[str, object] = {"q": np.asarray(query, dtype=np.float32), "k": k}
    if where is None and not exclude:
        return vectors.knn_query(model.dimensions, kind, model.model_id), params
    if kind != "movielens":
        raise ValueError(f"filters apply to MovieLens movies only, not {kind}")
    statement = sql.SQL(sqlfiles.load("query/knn_movies")).format(dim=sql.Literal(int(model.dimensions)),
                                                                   model_id=sql.Literal(int(model.model_id)))
    return statement, {**params, **(where or MovieFilter()).params(), "exclude": [str(key) for key in exclude]}


def _run(conn: psycopg.Connection, statement: sql.Composed, params: dict[str, object], k: int, *,
         index: str | None, use_index: bool, ef: int, probes: int) -> list[tuple[str, float]]:
    vectors.set_search_params(conn, min(k, MAX_K), ef, probes)
    if index and not use_index:
        conn.execute("SET LOCAL enable_indexscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
    elif index:
        conn.execute("SET LOCAL enable_sort = off")
    rows = conn.execute(statement, params, prepare=False).fetchall()  # planned now, never from a cache: the SETs
    for setting in ("enable_sort", "enable_indexscan", "enable_bitmapscan"):  # above apply
        conn.execute(sql.SQL("SET LOCAL {} TO DEFAULT").format(sql.Identifier(setting)))
    return sorted(((str(key), float(dist)) for key, dist in rows if dist == dist), key=lambda r: r[1])


def index_label(index: str | None, exact_fallback: bool = False, *, rescanned: bool = False,
                asked_exact: bool = False) -> str:
    if rescanned:
        return "exact scan (the filtered index scan came back short)"
    if asked_exact:
        return "exact scan (asked for)"
    if exact_fallback:
        return "exact scan (the index could not reach its recall floor)"
    if not index:
        return "exact scan (no vector index for this model)"
    method = "HNSW" if "_hnsw_" in index else "IVFFlat" if "_ivfflat_" in index else "index"
    return f"{method} index {index}"


def label(found: Neighbours) -> str:
    """How a kNN query was served, for a listing's ``source``."""
    served = index_label(found.index, found.exact_fallback, rescanned=found.rescanned, asked_exact=found.asked_exact)
    return served.replace("exact scan", "exact search in memory", 1) if found.in_memory else served
