"""How later stages read the published MovieLens tables: the catalogue and the ratings as interactions."""

import numpy as np

from movrec_pipeline.defs.resources import PostgresResource
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.warehouse import sqlfiles


def catalogue(postgres: PostgresResource) -> tuple[np.ndarray, dict[int, str]]:
    """Every movie id (sorted) and its clean title."""
    movies = postgres.read_frame(sqlfiles.load("sources/movielens_catalogue"))
    return movies["movie_id"].to_numpy(), dict(movies.itertuples(index=False))


def ratings_frame(postgres: PostgresResource, user_buckets: tuple[int, list[int]] | None = None):
    """user_id, movie_id, rating, rated_at of every rating (or of the users in ``(n, buckets)``: modulo n)."""
    if user_buckets is None:
        return postgres.read_frame(sqlfiles.load("sources/movielens_ratings"))
    n, buckets = user_buckets
    return postgres.read_frame(sqlfiles.load("sources/movielens_ratings_of_buckets"), {"n": n, "buckets": buckets})


def interactions(postgres: PostgresResource, item_ids: np.ndarray,
                 user_buckets: tuple[int, list[int]] | None = None) -> InteractionData:
    """The ratings as a users x catalogue interaction matrix (all users, or those of some buckets)."""
    return InteractionData.from_ratings(ratings_frame(postgres, user_buckets), item_ids)
