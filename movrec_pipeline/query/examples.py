"""Movies from liked and disliked examples, shaped like the vector databases' recommend APIs (Qdrant's).

Two strategies: ``average_vector`` searches once for ``avg(liked) + (avg(liked) - avg(disliked))``; ``best_score``
scores each candidate by its best example: the highest cosine to a liked movie, unless a disliked one is closer,
then minus that cosine squared. Both take a filter on genres, year and average rating, a score threshold and
offset paging, and may search exactly (``exact=True``: the reference the index's recall is measured against).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg

from movrec_pipeline.query import catalog
from movrec_pipeline.query.errors import NotFoundError, QueryError
from movrec_pipeline.query.filters import MovieFilter
from movrec_pipeline.query.models import Model, active_text_model, collaborative_model
from movrec_pipeline.query.results import Item, Listing
from movrec_pipeline.query.session import MAX_K, MOVIES, RATINGS, check_page, session
from movrec_pipeline.query.vectors import Neighbours, knn, label, unit, vectors_for

MAX_EXAMPLES = 100
USING = ("collaborative", "text")
STRATEGIES = ("average_vector", "best_score")
BEST_SCORE_ROUNDS = 4  # candidate depth doubles per round until the ranking is certain down to the page's end


def example_query(liked: list[np.ndarray], disliked: list[np.ndarray]) -> np.ndarray:
    """Qdrant's average_vector: ``avg_pos + (avg_pos - avg_neg)``; plain ``avg_pos`` without negatives."""
    positive = np.mean(liked, axis=0)
    return positive + (positive - np.mean(disliked, axis=0)) if disliked else positive


def best_scores(candidates: np.ndarray, liked: np.ndarray, disliked: np.ndarray) -> np.ndarray:
    """Qdrant's best_score of unit ``candidates`` (rows) against unit examples."""
    pos = (candidates @ liked.T).max(axis=1)
    if not len(disliked):
        return pos
    neg = (candidates @ disliked.T).max(axis=1)
    return np.where(pos >= neg, pos, -(neg * neg))


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
                          using: str = "collaborative", strategy: str = "average_vector",
                          where: MovieFilter | None = None, score_threshold: float | None = None, offset: int = 0,
                          exact: bool = False, conn: psycopg.Connection | None = None) -> Listing:
    """Movies like ``liked`` and unlike ``disliked`` (MovieLens ids): ``k`` after the first ``offset``.

    ``using="collaborative"`` (default) searches the ratings-based SVD vectors — taste rather than topic, and
    every rated movie has one; ``using="text"`` the active text model's vectors through their index. ``where``
    (see :func:`movrec_pipeline.query.filters.movie_filter`) keeps only matching movies; ``score_threshold`` drops
    results scoring below it. The examples themselves are never results.
    """
    depth = check_page(k, offset)
    if using not in USING:
        raise QueryError(f"using must be collaborative or text, got {using!r}")
    if strategy not in STRATEGIES:
        raise QueryError(f"strategy must be average_vector or best_score, got {strategy!r}")
    pos, neg = _example_ids(liked, disliked)
    where = None if where is None or where.empty else where
    needs = (MOVIES, RATINGS) if where is not None and where.min_rating is not None else (MOVIES,)
    with session(conn, *needs) as c:
        model = collaborative_model(c) if using == "collaborative" else active_text_model(c)
        examples = catalog.movies(c, pos + neg)
        unknown = [i for i in pos + neg if i not in examples]
        if unknown:
            raise NotFoundError(f"unknown MovieLens movie id(s): {', '.join(map(str, unknown))}")
        vectors = _example_vectors(c, model, using, examples)
        exclude = [str(i) for i in pos + neg]
        liked_vecs, disliked_vecs = [vectors[i] for i in pos], [vectors[i] for i in neg]
        if strategy == "average_vector":
            query = example_query(liked_vecs, disliked_vecs)
            if float(np.linalg.norm(query)) < 1e-6:
                raise QueryError("the liked and disliked movies cancel out: nothing to search for")
            found = knn(c, "movielens", model, unit(query), depth, where=where, exclude=exclude, exact=exact)
            scored = [(key, 1.0 - dist) for key, dist in found.rows]
            how = label(found)
        else:
            scored, how = _best_score(c, model, np.vstack(liked_vecs), np.vstack(disliked_vecs) if neg else
                                      np.zeros((0, model.dimensions), np.float32), depth, where, exclude, exact)
        if score_threshold is not None:
            scored = [(key, score) for key, score in scored if score >= score_threshold]
        keys = [key for key, _ in scored[:depth]]
        details = catalog.movies(c, [int(key) for key in keys])
        candidates = vectors_for(c, "movielens", model.model_id, keys)
    items = _example_items(scored[:depth], details, candidates, [(examples[i], vectors[i]) for i in pos])[offset:]
    formula = {"average_vector": "2 mean(liked) - mean(disliked)" if neg else "mean(liked)",
               "best_score": "best score against each example"}[strategy]
    source = f"live: {formula} of {using} vectors {model.label}, {how}"
    title = f"Movies like {', '.join(examples[i].label for i in pos)}"
    notes = [f"not like: {', '.join(examples[i].label for i in neg)}"] if neg else []
    if where is not None:
        notes.append(f"only movies with {where.describe()}")
    if score_threshold is not None:
        notes.append(f"scores below {score_threshold:g} left out")
    return Listing(title=title, source=source, items=items, notes=notes)


def _best_score(conn: psycopg.Connection, model: Model, liked: np.ndarray, disliked: np.ndarray, depth: int,
                where: MovieFilter | None, exclude: list[str], exact: bool) -> tuple[list[tuple[str, float]], str]:
    """Candidates: each liked movie's nearest ``m``; scored against every example. A movie outside the union is
    closer than the ``m``-th neighbour to no liked movie, so its score is at most the largest such ``m``-th cosine:
    the ranking is certain down to that bound. ``m`` doubles until ``depth`` candidates score above it."""
    m = depth
    for _ in range(BEST_SCORE_ROUNDS):
        lists: list[Neighbours] = [knn(conn, "movielens", model, q, min(m, MAX_K), where=where, exclude=exclude,
                                       exact=exact) for q in liked]
        keys = list(dict.fromkeys(key for found in lists for key, _ in found.rows))
        found_vectors = vectors_for(conn, "movielens", model.model_id, keys)
        keys = [key for key in keys if key in found_vectors]
        if not keys:
            return [], label(lists[0])
        matrix = np.vstack([unit(found_vectors[key]) for key in keys])
        scores = best_scores(matrix, liked, disliked)
        order = sorted(range(len(keys)), key=lambda i: (-float(scores[i]), int(keys[i])))
        scored = [(keys[i], float(scores[i])) for i in order]
        if any(len(found.rows) < min(m, MAX_K) for found in lists):  # a list holds every match: no outsiders
            return scored, f"{label(lists[0])}, {len(liked)} searches"
        bound = max(1.0 - found.rows[-1][1] for found in lists)
        if len(disliked):  # an outsider closer to a disliked movie scores -cos² <= 0
            bound = max(bound, 0.0)
        certain = sum(1 for _, score in scored if score > bound)
        if certain >= depth or m >= MAX_K:
            return scored, f"{label(lists[0])}, {len(liked)} searches"
        m *= 2
    return scored, f"{label(lists[0])}, {len(liked)} searches"


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


def _example_items(scored: list[tuple[str, float]], details: dict[int, catalog.Ref],
                   candidates: dict[str, np.ndarray], liked: list[tuple[catalog.Ref, np.ndarray]]) -> list[Item]:
    items = []
    for rank, (key, score) in enumerate(scored, 1):
        because = None
        if key in candidates:
            v = unit(candidates[key])
            ref, sim = max(((r, float(vec @ v)) for r, vec in liked), key=lambda t: t[1])
            because = f"{ref.label} ({sim:.2f})"
        ref = details.get(int(key)) or catalog.Ref("movielens", key, "?", None, [])
        items.append(catalog.item(rank, ref, score, because))
    return items
