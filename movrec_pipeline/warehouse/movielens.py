"""How later stages read the published MovieLens tables: the catalogue and the ratings as interactions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.warehouse import sqlfiles, tables

RATING_COLUMNS = [("user_id", "int4"), ("movie_id", "int4"), ("rating", "float8"), ("rated_at", "int8")]


def catalogue(conn: psycopg.Connection) -> tuple[np.ndarray, dict[int, str]]:
    """Every movie id (sorted) and its clean title."""
    movies = tables.read_frame(conn, sqlfiles.load("sources/movielens_catalogue"))
    return movies["movie_id"].to_numpy(), dict(movies.itertuples(index=False))


def ratings_frame(conn: psycopg.Connection, user_buckets: tuple[int, list[int]] | None = None) -> pd.DataFrame:
    """user_id, movie_id, rating, rated_at (Unix seconds) of every rating, or of the users in ``(n, buckets)``
    (user_id modulo n); read by binary COPY (32 M ratings in seconds, no Python object per value)."""
    if user_buckets is None:
        query = sql.SQL(sqlfiles.load("sources/movielens_ratings"))
    else:
        n, buckets = user_buckets
        query = sql.SQL(sqlfiles.load("sources/movielens_ratings_of_buckets")).format(
            n=sql.Literal(int(n)), buckets=sql.Literal([int(b) for b in buckets]))
    return tables.read_arrays(conn, query, RATING_COLUMNS)


def interactions(conn: psycopg.Connection, item_ids: np.ndarray,
                 user_buckets: tuple[int, list[int]] | None = None) -> InteractionData:
    """The ratings as a users x catalogue interaction matrix (all users, or those of some buckets)."""
    return InteractionData.from_ratings(ratings_frame(conn, user_buckets), item_ids)


def sampled_ratings(conn: psycopg.Connection, max_users: int) -> tuple[pd.DataFrame, int]:
    """Every rating of at most about ``max_users`` users — all of them, or a fixed sample: the users whose id is a
    multiple of ``stride = ceil(users / max_users)`` (ML-32M, 20,000: 11) — and the stride."""
    n_users = int(conn.execute(sqlfiles.load("evaluation/user_count")).fetchone()[0])
    stride = max(1, math.ceil(n_users / max_users))
    return ratings_frame(conn, user_buckets=(stride, [0]) if stride > 1 else None), stride
