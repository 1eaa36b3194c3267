"""Recommendations: a dvdrental customer's Netflix picks and a MovieLens user's movies, stored or live."""

from __future__ import annotations

import numpy as np
import psycopg

from movrec_pipeline.query import catalog
from movrec_pipeline.query.errors import NotFoundError, QueryError
from movrec_pipeline.query.models import Model, active_text_model, collaborative_model, require_vectors
from movrec_pipeline.query.results import Listing
from movrec_pipeline.query.session import (
    CUSTOMER_RECS,
    DVDRENTAL,
    MAX_K,
    RATINGS,
    SHOWS,
    USER_RECS,
    check_page,
    session,
)
from movrec_pipeline.query.taste import user_taste
from movrec_pipeline.query.vectors import as_array, knn, label, unit, vectors_for
from movrec_pipeline.ranking.diversity import mmr_rerank
from movrec_pipeline.ranking.profiles import weighted_profile
from movrec_pipeline.ranking.topk import normalize_rows
from movrec_pipeline.warehouse import sqlfiles


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


def _page(listing: Listing, offset: int) -> Listing:
    """The listing without its first ``offset`` items (ranks stay those of the whole list)."""
    listing.items = listing.items[offset:]
    return listing


def recommend_for_customer(customer_id: int, k: int = 10, *, diversity: float = 0.0, live: bool = False,
                           offset: int = 0, conn: psycopg.Connection | None = None) -> Listing:
    """Netflix shows for a dvdrental customer: ``k`` of them after the first ``offset``.

    From ``movrec.customer_netflix_recommendations``, or with ``live=True`` from the current vectors: the
    profile is the mean of the rented films' unit vectors (weighted by rentals, as the asset builds it)
    and the shows come from the Netflix vector index. ``diversity`` > 0 re-ranks with MMR.
    """
    depth = check_page(k, offset)
    diversity = _check_diversity(diversity)
    needs = (DVDRENTAL, SHOWS) if live else (CUSTOMER_RECS, DVDRENTAL)
    with session(conn, *needs) as c:
        name, rentals = catalog.customer(c, customer_id)
        catalog.require_rentals(customer_id, name, rentals)
        if live:
            return _page(_live_customer(c, customer_id, name, depth, diversity), offset)
        return _page(_stored_customer(c, customer_id, name, depth, diversity), offset)


def _stored_customer(conn: psycopg.Connection, customer_id: int, name: str, k: int, diversity: float) -> Listing:
    rows = conn.execute(sqlfiles.load("query/customer_recs"), {"customer_id": customer_id}).fetchall()
    if not rows:
        gap = conn.execute(sqlfiles.load("query/profile_gap"), {"customer_id": customer_id}).fetchone()
        reason = gap[0] if gap else "not in the table yet (re-materialize customer_netflix_recommendations)"
        raise NotFoundError(f"no recommendations for customer {customer_id} ({name}): {reason}")
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
        notes.append(f"the table keeps {len(rows)} picks per customer: use --live (live=true) for more")
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
                   source=f"live: {label(found)} over {model.label} vectors",
                   items=items, notes=notes)


def recommend_for_user(user_id: int, k: int = 10, *, live: bool = False, diversity: float = 0.0,
                       exclude_seen: bool = True, offset: int = 0, conn: psycopg.Connection | None = None) -> Listing:
    """Movies for a MovieLens user: ``k`` after the first ``offset``, with explanations.

    Stored (``movrec.movielens_user_recommendations``: the served model's unseen picks), or with ``live=True``
    from the current collaborative vectors: the nearest movies to the mean vector of the movies the user rated 4
    or more, leaving out every movie they rated unless ``exclude_seen=False``. ``diversity`` > 0 re-ranks with MMR.
    """
    depth = check_page(k, offset)
    diversity = _check_diversity(diversity)
    # a stored list without re-ranking is one statement: no transaction around it
    with session(conn, *((USER_RECS, RATINGS) if not live else (RATINGS,)), snapshot=live or bool(diversity)) as c:
        if live:
            n_ratings, _ = catalog.ml_user(c, user_id)
            return _page(_live_user(c, user_id, n_ratings, depth, diversity, exclude_seen), offset)
        rows = c.execute(sqlfiles.load("query/user_recs"), {"user_id": user_id}).fetchall()  # one round trip
        if not rows:
            catalog.ml_user(c, user_id)  # an unknown user is named as such
            raise NotFoundError(f"no stored recommendations for MovieLens user {user_id} "
                                "(re-materialize movielens_user_recommendations)")
        vectors: dict[str, np.ndarray] = {}
        if diversity:
            model = collaborative_model(c)
            vectors = {key: unit(v) for key, v in vectors_for(c, "movielens", model.model_id,
                                                                  [str(r[1]) for r in rows]).items()}
    keys = [str(r[1]) for r in rows]
    picks = _diversify(keys, [float(r[5]) for r in rows], vectors, depth, diversity)
    items = [catalog.item(rank, catalog.Ref("movielens", str(r[1]), r[2], r[3], list(r[4] or [])), r[5], r[6])
             for rank, r in enumerate((rows[p] for p in picks), 1)]
    notes = [f"the table keeps {len(rows)} picks per user: use live=true for more"] if depth > len(rows) else []
    if diversity:
        notes.append(f"re-ranked with MMR (lambda {1 - diversity:.2f}) within the stored picks")
    return _page(Listing(title=f"Movies for MovieLens user {user_id} ({rows[0][9] or 0} ratings)",
                         source=f"table movrec.movielens_user_recommendations (method {rows[0][7]})", items=items,
                         notes=notes, generated_at=rows[0][8]), offset)


def _live_user(conn: psycopg.Connection, user_id: int, n_ratings: int, k: int, diversity: float,
               exclude_seen: bool) -> Listing:
    model = collaborative_model(conn)
    taste = user_taste(conn, user_id, model)
    if taste.profile is None:
        raise QueryError(f"MovieLens user {user_id}: {taste.what}, so there is no taste to search from")
    pool = k if diversity == 0 else min(MAX_K, k * 5)
    seen = [str(m) for m in taste.rated] if exclude_seen else []
    found = knn(conn, "movielens", model, taste.profile, pool, exclude=seen)
    keys = [key for key, _ in found.rows]
    vectors = {key: unit(v) for key, v in vectors_for(conn, "movielens", model.model_id, keys).items()}
    picks = _diversify(keys, [1.0 - d for _, d in found.rows], vectors, k, diversity)
    details = catalog.movies(conn, [int(keys[p]) for p in picks])
    liked = np.vstack([v for _, v in taste.liked])
    titles = catalog.movies(conn, [m for m, _ in taste.liked])
    items = []
    for rank, pos in enumerate(picks, 1):
        key, dist = found.rows[pos]
        because = None
        if key in vectors:
            sims = liked @ vectors[key]
            best = int(np.argmax(sims))
            ref = titles.get(taste.liked[best][0])
            because = f"{ref.label if ref else taste.liked[best][0]} ({sims[best]:.2f})"
        ref = details.get(int(key)) or catalog.Ref("movielens", key, "?", None, [])
        items.append(catalog.item(rank, ref, 1.0 - dist, because, your_rating=taste.rated.get(int(key))))
    notes = [f"profile: mean collaborative vector of the user's {taste.what}"]
    notes.append(f"left out the {len(seen)} movies the user rated" if exclude_seen else "rated movies included")
    if diversity:
        notes.append(f"re-ranked with MMR (lambda {1 - diversity:.2f}) from the nearest {pool}")
    return Listing(title=f"Movies for MovieLens user {user_id} ({n_ratings} ratings)",
                   source=f"live: {label(found)} over {model.label} vectors", items=items, notes=notes)
