"""The MovieLens title search and per-movie and per-user statistics (``movrec.movie_stats``, ``movrec.user_stats``)
in the warehouse, built from the published tables by ``sql/sources/movielens_search.sql``."""

from __future__ import annotations

import psycopg

from movrec_pipeline.warehouse import connection, sqlfiles


def build(conn: psycopg.Connection) -> None:
    """The search index and the statistics tables, from the tables just published (in the publishing transaction)."""
    conn.execute(sqlfiles.load("sources/movielens_search"))


def ensure_table(url: str) -> None:
    """Builds the statistics tables in a warehouse published before them (``movrec.movie_stats`` a view, no
    ``movrec.user_stats``; the MovieLens tables themselves unchanged); nothing when both are tables already."""
    with connection.connect(url) as conn:
        if not conn.execute("SELECT coalesce((SELECT relkind = 'r' FROM pg_class "
                            "WHERE oid = to_regclass('movrec.movie_stats')), false) "
                            "AND to_regclass('movrec.user_stats') IS NOT NULL").fetchone()[0]:
            build(conn)
