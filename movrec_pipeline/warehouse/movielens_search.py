"""The MovieLens title search and per-movie statistics (``movrec.movie_stats``) in the warehouse, built from the
published tables by ``sql/sources/movielens_search.sql``."""

from __future__ import annotations

import psycopg

from movrec_pipeline.warehouse import connection, sqlfiles


def build(conn: psycopg.Connection) -> None:
    """The search index and the statistics table, from the tables just published (in the publishing transaction)."""
    conn.execute(sqlfiles.load("sources/movielens_search"))


def ensure_table(url: str) -> None:
    """Builds the statistics table in a warehouse published when ``movrec.movie_stats`` was a view (the MovieLens
    tables themselves unchanged); nothing when it is a table already."""
    with connection.connect(url) as conn:
        if not conn.execute("SELECT coalesce((SELECT relkind = 'r' FROM pg_class "
                            "WHERE oid = to_regclass('movrec.movie_stats')), false)").fetchone()[0]:
            build(conn)
