"""Recommendations: a customer's Netflix picks (stored or live), a MovieLens user's, or from example movies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg

from movrec_pipeline.query import catalog
from movrec_pipeline.query.errors import QueryError
from movrec_pipeline.query.models import Model, active_text_model, collaborative_model, require_vectors
from movrec_pipeline.query.results import Item, Listing
from movrec_pipeline.query.session import (
    CUSTOMER_RECS,
    DVDRENTAL,
    MAX_K,
    MOVIES,
    RATINGS,
    SHOWS,
    USER_RECS,
    check_k,
    session,
)
from movrec_pipeline.query.vectors import as_array, index_label, knn, unit, vectors_for
from movrec_pipeline.ranking.diversity import mmr_rerank
from movrec_pipeline.ranking.profiles import weighted_profile
from movrec_pipeline.ranking.topk import normalize_rows
from movrec_pipeline.warehouse import sqlfiles

MAX_EXAMPLES = 100


def _check_diversity(diversity: float) -> float:
    if not 0.0 <= float(diversity) <= 1.0:
        raise QueryError(f"diversity must be between 0 (pure relevance) and 1 (most diverse), got {diversity}")
    return float(diversity)


def _diversify(keys: list[str], scores: list[float], vectors: dict[str, np.ndarray], k: int,
               diversity: float) -> list[int]:
    """Positions of ``keys`` picked by MMR with lambda = 1 - diversity (plain top-k when 0)."""
    if diversity == 0.0 or not vectors:
        return list(range(min(k, len(keys))))
    usable = [i for i, key in enumerate(keys) if key in vectors]
    matrix = np.vstack([vectors[keys[i]] for i in usable])
    picks = mmr_rerank(np.arange(len(usable)), np.asarray([scores[i] for i in usable]), matrix, k, 1.0 - diversity)
    return [usable[int(p)] for p in picks]


def recommend_for_customer(customer_id: int, k: int = 10, *, diversity: float = 0.0, live: bool = False,
                           conn: psycopg.Connection | None = None) -> Listing:
    """Netflix shows for a dvdrental customer.

    From ``movrec.customer_netflix_recommendations``, or with ``live=True`` from the current vectors: the
    profile is the mean of the rented films' unit vectors (weighted by rentals, as the asset builds it)
    and the shows come from the Netflix vector index. ``diversity`` > 0 re-ranks with MMR.
    """
    check_k(k)
    diversity = _check_diversity(diversity)
    needs = (DVDRENTAL, SHOWS) if live else (CUSTOMER_RECS, DVDRENTAL)
    with session(conn, *needs) as c:
        name, rentals = catalog.customer(c, customer_id)
        catalog.require_rentals(customer_id, name, rentals)
        if live:
            return _live_customer(c, customer_id, name, k, diversity)
        return _stored_customer(c, customer_id, name, k, diversity)


def _stored_customer(conn: psycopg.Connection, customer_id: int, name: str, k: int, diversity: float) -> Listing:
    rows = conn.execute(sqlfiles.load("query/customer_recs"), {"customer_id": customer_id}).fetchall()
    if not rows:
        gap = conn.execute(sqlfiles.load("query/profile_gap"), {"customer_id": customer_id}).fetchone()
        reason = gap[0] if gap else "not in the table yet (re-materialize customer_netflix_recommendations)"
        raise QueryError(f"no recommendations for customer {customer_id} ({name}): {reason}")
    keys = [r[1] for r in rows]
    vectors: dict[str, np.ndarray] = {}
    if diversity:
        vectors = vectors_for(conn, "netflix", int(rows[0][10]), keys)
    picks = _diversify(keys, [float(r[6]) for r in rows], vectors, k, diversity)
    items = []
    for rank, pos in enumerate(picks, 1):
        r = rows[pos]
        ref = catalog.Ref("netflix", r[1], r[2] or "?", r[4], list(r[5] or []), detail=r[3] or "")
        because = f"{r[8]} ({r[9]:.2f})" if r[8] else None
        items.append(catalog.item(rank, ref, r[6], because))
    notes = []
    if k > len(rows):
        notes.append(f"the table keeps {len(rows)} picks per customer: use --live for more")
    if diversity:
        notes.append(f"re-ranked with MMR (lambda {1 - diversity:.2f}) within the stored picks")
    return Listing(title=f"Netflix picks for customer {customer_id} ({name})",
                   source="table movrec.customer_netflix_recommendations", items=items, notes=notes,
                   generated_at=rows[0][11])


def customer_profile(conn: psycopg.Connection, customer_id: int, model: Model
                     ) -> tuple[np.ndarray, list[tuple[int, str, int]], np.ndarray]:
    """(unit profile, [(film_id, title, rentals)] with vectors, their unit vectors) of a customer."""
    rows = conn.execute(sqlfiles.load("query/customer_films"),
                        {"customer_id": customer_id, "model_id": model.model_id}, binary=True).fetchall()
    usable = [r for r in rows if r[3] is not None]
    if not usable:
        raise QueryError(f"none of the {len(rows)} films customer {customer_id} rented has a vector for "
                         f"{model.label}: materialize film_embeddings (movrec materialize)")
    films = normalize_rows(np.vstack([as_array(r[3]) for r in usable]))
    profile = weighted_profile(films, np.asarray([r[2] for r in usable], dtype=np.float32))
    if profile is None:
        raise QueryError(f"customer {customer_id}: the rented films' vectors cancel out (zero profile)")
    return profile, [(int(r[0]), r[1], int(r[2])) for r in usable], films


def _live_customer(conn: psycopg.Connection, customer_id: int, name: str, k: int, diversity: float) -> Listing:
    model = active_text_model(conn)
    require_vectors(conn, "film", model)
    require_vectors(conn, "netflix", model)
    profile, films, film_vectors = customer_profile(conn, customer_id, model)
    pool = k if diversity == 0 else min(MAX_K, k * 5)
    found = knn(conn, "netflix", model, profile, pool)
    keys = [key for key, _ in found.rows]
    vectors = {key: unit(v) for key, v in vectors_for(conn, "netflix", model.model_id, keys).items()}
    picks = _diversify(keys, [1.0 - d for _, d in found.rows], vectors, k, diversity)
    details = catalog.shows(conn, [keys[p] for p in picks])
    items = []
    for rank, pos in enumerate(picks, 1):
        key, dist = found.rows[pos]
        because = None
        if key in vectors:
            sims = film_vectors @ vectors[key]
            best = int(np.argmax(sims))
            because = f"{films[best][1]} ({sims[best]:.2f})"
        ref = details.get(key) or catalog.Ref("netflix", key, "?", None, [])
        items.append(catalog.item(rank, ref, 1.0 - dist, because))
    notes = [f"profile: mean of {len(films)} rented films with vectors"]
    if diversity:
        notes.append(f"re-ranked with MMR (lambda {1 - diversity:.2f}) from the nearest {pool}")
    return Listing(title=f"Netflix picks for customer {customer_id} ({name})",
                   source=f"live: {index_label(found.index, found.exact_fallback)} over {model.label} vectors",
                   items=items, notes=notes)


def recommend_for_user(user_id: int, k: int = 10, *, conn: psycopg.Connection | None = None) -> Listing:
    """A MovieLens user's stored picks (``movrec.movielens_user_recommendations``) with explanations."""
    check_k(k)
    with session(conn, USER_RECS, RATINGS) as c:
        n_ratings, _ = catalog.ml_user(c, user_id)
        rows = c.execute(sqlfiles.load("query/user_recs"), {"user_id": user_id}).fetchall()
    if not rows:
        raise QueryError(f"no stored recommendations for MovieLens user {user_id} "
                         "(re-materialize movielens_user_recommendations)")
    items = [catalog.item(rank, catalog.Ref("movielens", str(r[1]), r[2], r[3], list(r[4] or [])), r[5], r[6])
             for rank, r in enumerate(rows[:k], 1)]
    notes = [f"the table keeps {len(rows)} picks per user"] if k > len(rows) else []
    return Listing(title=f"Movies for MovieLens user {user_id} ({n_ratings} ratings)",
                   source=f"table movrec.movielens_user_recommendations (method {rows[0][7]})", items=items,
                   notes=notes, generated_at=rows[0][8])


def example_query(liked: list[np.ndarray], disliked: list[np.ndarray]) -> np.ndarray:
    """Qdrant's average_vector: ``avg_pos + (avg_pos - avg_neg)``; plain ``avg_pos`` without negatives."""
    positive = np.mean(liked, axis=0)
    return positive + (positive - np.mean(disliked, axis=0)) if disliked else positive


def _example_ids(liked: Sequence[int], disliked: Sequence[int]) -> tuple[list[int], list[int]]:
    pos = list(dict.fromkeys(int(i) for i in liked))
    neg = list(dict.fromkeys(int(i) for i in disliked))
    if not pos:
        raise QueryError("give at least one liked movie id, e.g. --from-movies 1,260,1196")
    if len(pos) + len(neg) > MAX_EXAMPLES:
        raise QueryError(f"at most {MAX_EXAMPLES} example movies")
    both = sorted(set(pos) & set(neg))
    if both:
        raise QueryError(f"movie ids both liked and disliked: {', '.join(map(str, both))}")
    return pos, neg


def recommend_from_movies(liked: Sequence[int], disliked: Sequence[int] = (), k: int = 10, *,
                          using: str = "collaborative", conn: psycopg.Connection | None = None) -> Listing:
    """Movies nearest to ``2 * mean(liked) - mean(disliked)`` of unit vectors (Qdrant's ``average_vector``).

    ``using="collaborative"`` (default) searches the ratings-based SVD vectors — taste rather than topic, and
    every rated movie has one; ``using="text"`` the active text model's vectors through their index.
    """
    check_k(k)
    if using not in ("collaborative", "text"):
        raise QueryError(f"using must be collaborative or text, got {using!r}")
    pos, neg = _example_ids(liked, disliked)
    with session(conn, MOVIES) as c:
        model = collaborative_model(c) if using == "collaborative" else active_text_model(c)
        examples = catalog.movies(c, pos + neg)
        unknown = [i for i in pos + neg if i not in examples]
        if unknown:
            raise QueryError(f"unknown MovieLens movie id(s): {', '.join(map(str, unknown))}")
        vectors = _example_vectors(c, model, using, examples)
        query = example_query([vectors[i] for i in pos], [vectors[i] for i in neg])
        if float(np.linalg.norm(query)) < 1e-6:
            raise QueryError("the liked and disliked movies cancel out: nothing to search for")
        found = knn(c, "movielens", model, unit(query), min(MAX_K, k + len(pos) + len(neg)))
        keys = [key for key, _ in found.rows if int(key) not in examples][:k]
        details = catalog.movies(c, [int(key) for key in keys])
        candidates = vectors_for(c, "movielens", model.model_id, keys)
    items = _example_items(found.rows, keys, details, candidates, [(examples[i], vectors[i]) for i in pos])
    formula = "2 mean(liked) - mean(disliked)" if neg else "mean(liked)"
    source = f"live: {formula} of {using} vectors {model.label}, {index_label(found.index, found.exact_fallback)}"
    title = f"Movies like {', '.join(examples[i].label for i in pos)}"
    notes = [f"not like: {', '.join(examples[i].label for i in neg)}"] if neg else []
    return Listing(title=title, source=source, items=items, notes=notes)


def _example_vectors(conn: psycopg.Connection, model: Model, using: str, examples: dict[int, catalog.Ref]
                     ) -> dict[int, np.ndarray]:
    """Unit vectors of the example movies; each one must have a vector."""
    found = vectors_for(conn, "movielens", model.model_id, [str(i) for i in examples])
    vectors = {int(key): unit(v) for key, v in found.items()}
    missing = [ref.label for i, ref in examples.items() if i not in vectors]
    if missing:
        why = "nobody rated it: try --using text" if using == "collaborative" else "not embedded"
        raise QueryError(f"no {using} vector for {', '.join(missing)} ({why})")
    return vectors


def _example_items(rows: list[tuple[str, float]], keys: list[str], details: dict[int, catalog.Ref],
                   candidates: dict[str, np.ndarray], liked: list[tuple[catalog.Ref, np.ndarray]]) -> list[Item]:
    distance = dict(rows)
    items = []
    for rank, key in enumerate(keys, 1):
        because = None
        if key in candidates:
            v = unit(candidates[key])
            ref, sim = max(((r, float(vec @ v)) for r, vec in liked), key=lambda t: t[1])
            because = f"{ref.label} ({sim:.2f})"
        ref = details.get(int(key)) or catalog.Ref("movielens", key, "?", None, [])
        items.append(catalog.item(rank, ref, 1.0 - distance[key], because))
    return items
