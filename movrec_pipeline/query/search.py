"""Full-text search (optionally re-ranked for a user), semantic search, and browsing by genre and rating."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import psycopg
from psycopg import sql

from movrec_pipeline.query import catalog, models
from movrec_pipeline.query.errors import QueryError
from movrec_pipeline.query.filters import canonical_genres
from movrec_pipeline.query.models import Model, active_text_model, collaborative_model, has_vectors, require_vectors
from movrec_pipeline.query.results import Item, Listing
from movrec_pipeline.query.session import MAX_K, MOVIES, RATINGS, VECTORS, check_page, session
from movrec_pipeline.query.taste import user_taste
from movrec_pipeline.query.vectors import knn, label, unit, vectors_for
from movrec_pipeline.warehouse import sqlfiles

MAX_TEXT = 500
KINDS = ("netflix", "movielens")
_WORD = re.compile(r"[^\W_]+")
_TSQUERY = {"websearch_to_tsquery": sql.SQL("websearch_to_tsquery('english', %(text)s)"),
            "prefix match": sql.SQL("to_tsquery('english', %(text)s)")}
ORDERS = {"popular": sql.SQL("n_ratings DESC, avg_rating DESC NULLS LAST, movie_id"),
          "top-rated": sql.SQL("avg_rating DESC NULLS LAST, n_ratings DESC, movie_id"),
          "trending": sql.SQL("recent_ratings DESC, avg_rating DESC NULLS LAST, movie_id")}
MIN_COUNT = {"popular": 1, "top-rated": 20, "trending": 1}


def check_text(text: str | None) -> str:
    text = " ".join(str(text or "").split())
    if not text:
        raise QueryError("empty search text")
    if "\x00" in text:
        raise QueryError("search text contains a NUL character")
    if len(text) > MAX_TEXT:
        raise QueryError(f"search text is longer than {MAX_TEXT} characters")
    return text


def _full_text(conn: psycopg.Connection, text: str, limit: int) -> tuple[list[tuple], str]:
    """Matches by websearch syntax; if none, every word as a prefix ('toy sto' finds Toy Story)."""
    attempts = [("websearch_to_tsquery", text)]
    words = _WORD.findall(text)[:10]
    if words:
        attempts.append(("prefix match", " & ".join(f"{w}:*" for w in words)))
    for how, query_text in attempts:
        query = sql.SQL(sqlfiles.load("query/search")).format(tsquery=_TSQUERY[how])
        rows = conn.execute(query, {"text": query_text, "limit": limit}).fetchall()
        if rows:
            return rows, how
    return [], "websearch_to_tsquery"


def search_movies(text: str, k: int = 10, *, user_id: int | None = None, personal_weight: float = 0.5,
                  offset: int = 0, conn: psycopg.Connection | None = None) -> Listing:
    """MovieLens movies matching ``text`` (title, genres, year) by PostgreSQL full-text search; ``offset`` pages.

    With ``user_id`` the best ``max(5 * depth, 50)`` matches are re-ranked (the ParadeDB search system's two-tower
    idea): ``(1 - w) * text rank / best text rank + w * (1 + cosine) / 2``, the cosine taken between the movie's
    collaborative vector and the mean vector of the movies the user rated 4 or more.
    """
    text = check_text(text)
    depth = check_page(k, offset)
    if not 0.0 <= personal_weight <= 1.0:
        raise QueryError(f"personal weight must be between 0 and 1, got {personal_weight}")
    pool = depth if user_id is None else min(MAX_K, max(5 * depth, 50))
    needs = (MOVIES,) if user_id is None else (MOVIES, RATINGS)
    with session(conn, *needs) as c:
        rows, how = _full_text(c, text, pool)
        source = f"full-text search ({how}, GIN index movie_stats_search_idx)"
        notes = [] if rows else [f"no movie matches {text!r}"]
        if user_id is None:
            items = [catalog.item(rank, _movie(r), r[4], ratings=r[5]) for rank, r in enumerate(rows, 1)]
            return Listing(title=f"Movies matching {text!r}", source=source, items=items[offset:], notes=notes)
        items, how_ranked = _rerank(c, rows, user_id, depth, personal_weight)
    return Listing(title=f"Movies matching {text!r} for MovieLens user {user_id}",
                   source=f"{source}, re-ranked: {how_ranked}", items=items[offset:], notes=notes)


def _movie(row: tuple) -> catalog.Ref:
    return catalog.Ref("movielens", str(row[0]), row[1], row[2], list(row[3] or []))


def _rerank(conn: psycopg.Connection, rows: list[tuple], user_id: int, k: int, weight: float
            ) -> tuple[list[Item], str]:
    model = collaborative_model(conn)
    taste = user_taste(conn, user_id, model)
    profile, rated, liked = taste.profile, taste.rated, taste.what
    vectors = vectors_for(conn, "movielens", model.model_id, [str(r[0]) for r in rows])
    best = max((float(r[4]) for r in rows), default=0.0) or 1.0
    scored = []
    for r in rows:
        vector = vectors.get(str(r[0]))
        cosine = float(unit(vector) @ profile) if vector is not None and profile is not None else None
        personal = (1.0 + cosine) / 2.0 if cosine is not None else 0.5
        text_rank = float(r[4]) / best
        scored.append(((1.0 - weight) * text_rank + weight * personal, r, text_rank, cosine))
    scored.sort(key=lambda t: (-t[0], int(t[1][0])))
    items = [catalog.item(rank, _movie(r), score, text_rank=round(text_rank, 3),
                          user_cosine=None if cos is None else round(cos, 3), your_rating=rated.get(int(r[0])))
             for rank, (score, r, text_rank, cos) in enumerate(scored[:k], 1)]
    how = (f"{1 - weight:.0%} text rank + {weight:.0%} cosine to the mean collaborative vector of the "
           f"user's {liked} ({model.label})")
    return items, how


def semantic_search(text: str, k: int = 10, *, kinds: Sequence[str] = KINDS, offset: int = 0,
                    conn: psycopg.Connection | None = None) -> Listing:
    """Netflix shows and MovieLens movies nearest to ``text`` embedded by the active provider (index kNN): ``k``
    of each kind after ``offset``."""
    text = check_text(text)
    depth = check_page(k, offset)
    kinds = list(dict.fromkeys(kinds))
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise QueryError(f"kinds must be among {', '.join(KINDS)}, got {kinds!r}")
    with session(conn, VECTORS) as c:
        model = active_text_model(c)
        available = [kind for kind in kinds if has_vectors(c, kind, model)]
        if not available:
            require_vectors(c, kinds[0], model)
        query = _embed(text, model)
        items, indexes = [], []
        for kind in available:
            found = knn(c, kind, model, query, depth)
            indexes.append(f"{kind}: {label(found)}")
            keys = [key for key, _ in found.rows]
            details = catalog.shows(c, keys) if kind == "netflix" else {
                str(i): ref for i, ref in catalog.movies(c, [int(key) for key in keys]).items()}
            items += [catalog.item(rank, details[key], 1.0 - dist)
                      for rank, (key, dist) in enumerate(found.rows, 1) if key in details and rank > offset]
    notes = [f"no {kind} vectors for {model.label}" for kind in kinds if kind not in available]
    return Listing(title=f"Nearest to {text!r}", source=f"live: query embedded by {model.label}; " + "; ".join(indexes),
                   items=items, notes=notes)


def _embed(text: str, model: Model) -> np.ndarray:
    vector = np.asarray(models.embedder().embed([text])[0], dtype=np.float32)
    if vector.shape != (model.dimensions,):
        raise QueryError(f"the provider returned {vector.shape[-1]}-dimensional vectors, the stored ones have "
                         f"{model.dimensions}: check MOVREC_EMBEDDING_DIMENSIONS")
    return unit(vector)


def browse_movies(*, genres: Sequence[str] = (), min_rating: float | None = None, order: str = "popular",
                  min_count: int | None = None, k: int = 10, offset: int = 0,
                  conn: psycopg.Connection | None = None) -> Listing:
    """MovieLens movies from the ``movrec.movie_stats`` table: ``popular`` (most ratings), ``top-rated``
    (best average among movies with at least ``min_count`` ratings, default 20) or ``trending`` (most
    ratings in the data set's last 365 days); filtered by all ``genres`` and an average >= ``min_rating``.
    """
    depth = check_page(k, offset)
    if order not in ORDERS:
        raise QueryError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    if min_rating is not None and not 0.5 <= float(min_rating) <= 5.0:
        raise QueryError(f"min rating must be between 0.5 and 5, got {min_rating}")
    count = MIN_COUNT[order] if min_count is None else min_count
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise QueryError(f"min count must be a whole number >= 0, got {min_count!r}")
    with session(conn, MOVIES, RATINGS) as c:
        wanted = canonical_genres(c, genres)
        query = sql.SQL(sqlfiles.load("query/browse")).format(order=ORDERS[order])
        rows = c.execute(query, {"genres": wanted, "min_count": count, "min_rating": min_rating,
                                 "min_recent": 1 if order == "trending" else 0, "k": depth}).fetchall()
    items = [catalog.item(rank, _movie(r), None if r[5] is None else round(r[5], 2), ratings=r[4], recent=r[6])
             for rank, r in enumerate(rows, 1) if rank > offset]
    title = {"popular": "Most-rated movies", "top-rated": f"Top-rated movies (>= {count} ratings)",
             "trending": "Trending movies (most ratings in the data's last 365 days)"}[order]
    if wanted:
        title += f" in {' & '.join(wanted)}"
    if min_rating is not None:
        title += f", average >= {min_rating:g}"
    notes = [] if items else ["no movie passes these filters"]
    return Listing(title=title, source="table movrec.movie_stats (score = average rating)", items=items, notes=notes)
