"""Similar items: MovieLens movies (stored lists, live kNN when more are needed) and Netflix shows (live)."""

from __future__ import annotations

import psycopg

from movrec_pipeline.query import catalog
from movrec_pipeline.query.errors import QueryError
from movrec_pipeline.query.models import active_text_model, collaborative_model, require_vectors
from movrec_pipeline.query.results import Item, Listing
from movrec_pipeline.query.session import MOVIES, SHOWS, SIMILAR, check_page, session
from movrec_pipeline.query.vectors import knn, label, vectors_for
from movrec_pipeline.warehouse import sqlfiles

SOURCES = ("collaborative", "text")


def similar_movies(movie: int | str, k: int = 10, *, source: str = "both", exclude_seen_by: int | None = None,
                   offset: int = 0, conn: psycopg.Connection | None = None) -> Listing:
    """Movies similar to one MovieLens movie (id or title), by collaborative and/or text vectors: ``k`` per source
    after the first ``offset``.

    Read from ``movrec.movielens_similar_movies``; when it holds fewer than ``offset + k`` (e.g. after leaving out
    the movies user ``exclude_seen_by`` rated) the list comes from a live kNN query on the same vectors.
    """
    depth = check_page(k, offset)
    sources = list(SOURCES) if source == "both" else [source]
    if any(s not in SOURCES for s in sources):
        raise QueryError(f"source must be collaborative, text or both, got {source!r}")
    with session(conn, SIMILAR, MOVIES) as c:
        ref = catalog.resolve_movie(c, movie)
        seen: set[int] = set()
        if exclude_seen_by is not None:
            catalog.ml_user(c, exclude_seen_by)
            rated = c.execute(sqlfiles.load("query/user_ratings"), {"user_id": exclude_seen_by, "model_id": 0})
            seen = {int(r[0]) for r in rated.fetchall()}  # model 0 does not exist: ids only, no vectors
        rows = c.execute(sqlfiles.load("query/similar_movies"),
                         {"movie_id": int(ref.id), "sources": sources}).fetchall()
        items, used, notes = [], [], []
        for src in sources:
            stored = [r for r in rows if r[0] == src and int(r[2]) not in seen]
            if len(stored) >= depth:
                picked = [(catalog.Ref("movielens", str(r[2]), r[3], r[4], list(r[5] or [])), r[6])
                          for r in stored[:depth]]
                used.append(f"{src}: table movrec.movielens_similar_movies")
            else:
                picked, how = _live_similar(c, ref, src, depth, seen)
                used.append(f"{src}: {how}")
            if not picked:
                notes.append(f"no {src} neighbours: the movie has no {src} vector")
            items += [catalog.item(rank, r, sim, source=src) for rank, (r, sim) in enumerate(picked, 1)
                      if rank > offset]
    if not items and offset == 0:
        raise QueryError(f"no similar movies for {ref.label}: it has no vector (never rated, not embedded)")
    if exclude_seen_by is not None:
        notes.append(f"left out {len(seen)} movies user {exclude_seen_by} rated")
    if ref.alternatives:
        notes.append(f"{len(ref.alternatives)} other movie(s) share the title: {'; '.join(ref.alternatives[:3])}")
    return Listing(title=f"Movies similar to {ref.label} [id {ref.id}]", source="; ".join(used), items=items,
                   notes=notes)


def _live_similar(conn: psycopg.Connection, ref: catalog.Ref, source: str, k: int, seen: set[int]
                  ) -> tuple[list[tuple[catalog.Ref, float]], str]:
    model = collaborative_model(conn) if source == "collaborative" else active_text_model(conn)
    vector = vectors_for(conn, "movielens", model.model_id, [ref.id]).get(ref.id)
    if vector is None:
        return [], f"live kNN ({model.label}): no vector"
    found = knn(conn, "movielens", model, vector, k, exclude=[ref.id, *map(str, seen)])
    keys = [int(key) for key, _ in found.rows][:k]
    details = catalog.movies(conn, keys)
    distance = dict(found.rows)
    picked = [(details[key], 1.0 - distance[str(key)]) for key in keys if key in details]
    return picked, f"live kNN, {label(found)} ({model.label})"


def similar_shows(show: str, k: int = 10, *, offset: int = 0, conn: psycopg.Connection | None = None) -> Listing:
    """Netflix shows nearest to one show (id like 's123' or exact title), live through the vector index: ``k``
    after the first ``offset``."""
    depth = check_page(k, offset)
    with session(conn, SHOWS) as c:
        ref = catalog.resolve_show(c, show)
        model = active_text_model(c)
        require_vectors(c, "netflix", model)
        vector = vectors_for(c, "netflix", model.model_id, [ref.id]).get(ref.id)
        if vector is None:
            raise QueryError(f"show {ref.id} ({ref.label}) has no vector for {model.label}: it was not embedded "
                             "(MOVREC_ITEM_LIMIT?); materialize netflix_embeddings")
        found = knn(c, "netflix", model, vector, depth + 1)
        keys = [key for key, _ in found.rows if key != ref.id][:depth]
        details = catalog.shows(c, keys)
    distance = dict(found.rows)
    items: list[Item] = [catalog.item(rank, details[key], 1.0 - distance[key])
                         for rank, key in enumerate(keys, 1) if key in details and rank > offset]
    kind = f", {ref.detail}" if ref.detail else ""
    return Listing(title=f"Shows similar to {ref.label} [{ref.id}{kind}]",
                   source=f"live: {label(found)} over {model.label} vectors",
                   items=items)
