"""Exact nearest neighbours in memory, for a (kind, model) whose index cannot serve (none, or under its recall
floor) and for ``exact`` searches.

PostgreSQL's exact scan reads and casts every stored vector per query (about 140 ms for 87,585 collaborative vectors
behind a genre filter at the ML-32M shape); here the unit vectors of one (kind, model), and for MovieLens the
attributes the filters test (genres as bits, year, average rating), are loaded once per data version of the assets
that wrote them, and a query is one matrix-vector product plus a mask: exact, so recall is 1. Memory is the vectors
themselves (items x dimensions float32; 22 MB at ML-32M); a table larger than ``MAX_FLOATS`` is left to PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import psycopg

from movrec_pipeline.query.filters import MovieFilter
from movrec_pipeline.query.models import Model
from movrec_pipeline.query.session import VECTOR_ASSETS, database_key
from movrec_pipeline.query.versions import data_versions
from movrec_pipeline.warehouse import sqlfiles, vectors
from movrec_pipeline.warehouse.embedding_models import COLLABORATIVE

MAX_FLOATS = 64_000_000  # 256 MB of float32 per (kind, model); beyond it PostgreSQL scans
MOVIE_ASSETS = ("movielens_movies", "movielens_ratings")  # movrec.movie_stats is published with the ratings


@dataclass(frozen=True)
class LoadedVectors:
    """One (kind, model)'s unit vectors; for MovieLens also each row's genre bits, year and average rating."""

    keys: list[str]
    unit: np.ndarray  # (n, d) float32, rows of norm 1
    genre_bits: np.ndarray | None = None  # (n,) int64: bit i set = the movie has genre i of ``genre_index``
    year: np.ndarray | None = None  # (n,) float64, NaN when unknown
    rating: np.ndarray | None = None  # (n,) float64, NaN when never rated
    genre_index: dict[str, int] | None = None
    positions: dict[str, int] = field(default_factory=dict)  # key -> row

    def mask(self, where: MovieFilter | None) -> np.ndarray | None:
        """Rows passing ``where`` (None: all); comparisons with NaN fail, as SQL's with NULL."""
        if where is None or where.empty:
            return None
        keep = np.ones(len(self.keys), dtype=bool)
        if where.genres:
            needed = 0
            for genre in where.genres:
                if genre not in (self.genre_index or {}):
                    return np.zeros(len(self.keys), dtype=bool)
                needed |= 1 << self.genre_index[genre]
            keep &= (self.genre_bits & needed) == needed
        with np.errstate(invalid="ignore"):
            if where.year_min is not None:
                keep &= self.year >= where.year_min
            if where.year_max is not None:
                keep &= self.year <= where.year_max
            if where.min_rating is not None:
                keep &= self.rating >= where.min_rating
        return keep


_CACHE: dict[tuple[str, str, int], tuple[str, LoadedVectors | None]] = {}
_LOCK = threading.Lock()


def vector_assets(kind: str, model: Model) -> list[str]:
    """The assets whose recorded versions name what (kind, model)'s vectors hold."""
    wrote = ["movielens_collaborative_vectors"] if (model.provider, model.name) == COLLABORATIVE[:2] \
        else [f"{VECTOR_ASSETS[kind]}/*"]
    return wrote + (list(MOVIE_ASSETS) if kind == "movielens" else [])


def loaded(conn: psycopg.Connection, kind: str, model: Model) -> LoadedVectors | None:
    """The (kind, model)'s vectors in memory, loaded now if their data version changed; None when they are too
    many for memory or the warehouse records no versions (an older one): PostgreSQL scans then."""
    versions = data_versions(conn, vector_assets(kind, model))
    if not versions:
        return None
    version = "\n".join(f"{a}={v}" for a, v in sorted(versions.items()))
    key = (database_key(conn), kind, model.model_id)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None or cached[0] != version:
            n_items = conn.execute(sqlfiles.load("indexes/vector_count"),
                                   {"kind": kind, "model_id": model.model_id}).fetchone()[0]
            _CACHE[key] = (version, _load(conn, kind, model) if n_items * model.dimensions <= MAX_FLOATS else None)
        return _CACHE[key][1]


def _load(conn: psycopg.Connection, kind: str, model: Model) -> LoadedVectors:
    keys, matrix = vectors.fetch_vectors(conn, kind, model.model_id, model.dimensions)
    norms = np.linalg.norm(matrix, axis=1)
    keep = norms > 1e-12  # pgvector's cosine distance to a zero vector is NaN: such rows are never returned
    keys = [k for k, ok in zip(keys, keep, strict=True) if ok]
    unit = (matrix[keep] / norms[keep, None]).astype(np.float32)
    positions = {key: i for i, key in enumerate(keys)}
    if kind != "movielens":
        return LoadedVectors(keys, unit, positions=positions)
    rows = {movie_id: (genres or [], year, rating) for movie_id, genres, year, rating in
            conn.execute(sqlfiles.load("query/movie_filter_columns")).fetchall()}
    genre_index = {g: i for i, g in enumerate(sorted({g for genres, _, _ in rows.values() for g in genres}))}
    bits, years, ratings = np.zeros(len(keys), np.int64), np.full(len(keys), np.nan), np.full(len(keys), np.nan)
    for i, key in enumerate(keys):
        genres, year, rating = rows.get(int(key), ([], None, None))
        bits[i] = sum(1 << genre_index[g] for g in set(genres))
        years[i] = np.nan if year is None else year
        ratings[i] = np.nan if rating is None else rating
    return LoadedVectors(keys, unit, bits, years, ratings, genre_index, positions)


def search(table: LoadedVectors, query: np.ndarray, k: int, where: MovieFilter | None,
           exclude: Sequence[str]) -> list[tuple[str, float]]:
    """The ``k`` nearest rows to ``query`` by cosine distance among those passing ``where`` and not excluded
    (ties by key, as a stable order)."""
    norm = float(np.linalg.norm(query))
    if not np.isfinite(norm) or norm <= 1e-12 or not table.keys or k <= 0:
        return []
    sims = table.unit @ (np.asarray(query, dtype=np.float32) / norm)
    allowed = table.mask(where)
    if exclude:
        allowed = np.ones(len(table.keys), dtype=bool) if allowed is None else allowed.copy()
        allowed[[table.positions[key] for key in set(exclude) if key in table.positions]] = False
    candidates = np.flatnonzero(allowed) if allowed is not None else np.arange(len(table.keys))
    if len(candidates) > k:
        candidates = candidates[np.argpartition(-sims[candidates], k - 1)[:k]]
    order = sorted(candidates.tolist(), key=lambda i: (-sims[i], table.keys[i]))
    return [(table.keys[i], float(1.0 - sims[i])) for i in order]
