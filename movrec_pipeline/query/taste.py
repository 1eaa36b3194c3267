"""A MovieLens user's taste as a vector: the mean collaborative vector of the movies they liked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg

from movrec_pipeline.query import catalog
from movrec_pipeline.query.models import Model
from movrec_pipeline.query.vectors import as_array, unit
from movrec_pipeline.ranking.topk import normalize_rows
from movrec_pipeline.warehouse import sqlfiles

LIKED_RATING = 4.0


@dataclass(frozen=True)
class Taste:
    """The unit mean vector of the liked movies (None when none has a vector), every rating, the liked movies."""

    profile: np.ndarray | None
    rated: dict[int, float]
    liked: list[tuple[int, np.ndarray]]  # (movie id, unit vector)
    what: str  # "70 movies rated >= 4"


def user_taste(conn: psycopg.Connection, user_id: int, model: Model) -> Taste:
    """Movies rated 4 or more (else at least the user's mean) under ``model``; unknown users are NotFoundError."""
    _, mean = catalog.ml_user(conn, user_id)
    rows = conn.execute(sqlfiles.load("query/user_ratings"),
                        {"user_id": user_id, "model_id": model.model_id}, binary=True).fetchall()
    rated = {int(m): float(r) for m, r, _ in rows}
    for threshold, label in ((LIKED_RATING, f"rated >= {LIKED_RATING:g}"), (mean, f"rated >= their mean {mean:.1f}")):
        liked = [(int(m), as_array(v)) for m, r, v in rows if v is not None and r >= threshold]
        if liked:
            vectors = normalize_rows(np.vstack([v for _, v in liked]))
            return Taste(unit(vectors.mean(axis=0)), rated, [(m, vectors[i]) for i, (m, _) in enumerate(liked)],
                         f"{len(liked)} movies {label}")
    return Taste(None, rated, [], "no rated movie has a collaborative vector")
