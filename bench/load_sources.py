"""Load time per source, and COPY vs row-by-row INSERT for MovieLens ratings, measured in one run.

Usage: .venv/bin/python bench/load_sources.py   (MOVREC_DATA_DIR must point at the data; uses a
throw-away embedded PostgreSQL under a temp MOVREC_HOME)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="movrec-bench-"))
    home.chmod(0o755)
    os.environ["MOVREC_HOME"] = str(home)
    from movrec_pipeline.core import paths
    from movrec_pipeline.ingest import dvdrental_restore as dvdrental
    from movrec_pipeline.ingest import files
    from movrec_pipeline.ingest import movielens_csv as movielens
    from movrec_pipeline.ingest import netflix_csv as netflix
    from movrec_pipeline.warehouse import connection, embedded, tables

    data = paths.data_dir()
    try:
        url = connection.warehouse_url()
        connection.prepare_warehouse(url)
        t = time.perf_counter()
        dvdrental.restore(data / "dvdrental.tar", url, str(embedded.bin_dir() / "pg_restore"),
                          str(embedded.bin_dir() / "pg_dump"))
        print(f"dvdrental restore (scratch db, dump, 1-transaction restore, swap): {time.perf_counter() - t:.2f} s")

        with connection.connect(url) as conn:
            t = time.perf_counter()
            parsed = netflix.parse_netflix_csv(data / files.NETFLIX.relpath)
            with conn.transaction():
                n = tables.replace_rows(conn, "netflix", "shows", parsed.shows)
            print(f"netflix_titles: {n} rows parsed+loaded in {time.perf_counter() - t:.2f} s")

            t = time.perf_counter()
            movies = movielens.parse_movies(data / files.MOVIELENS["movies"].relpath)
            known = set(movies.rows["movie_id"].astype(int))
            ratings = movielens.parse_ratings(data / files.MOVIELENS["ratings"].relpath, known)
            parse_s = time.perf_counter() - t
            with conn.transaction():
                conn.execute("DELETE FROM movielens.tags; DELETE FROM movielens.ratings; DELETE FROM movielens.links")
                tables.replace_rows(conn, "movielens", "movies", movies.rows,
                                    ["movie_id", "title", "clean_title", "year", "genres"])
            cols = ["user_id", "movie_id", "rating", "rated_at"]
            t = time.perf_counter()
            with conn.transaction():
                n = tables.replace_rows(conn, "movielens", "ratings", ratings.rows, cols)
            copy_s = time.perf_counter() - t
            rows = [tuple(tables._clean(v) for v in r) for r in ratings.rows[cols].itertuples(index=False, name=None)]
            t = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("DELETE FROM movielens.ratings")
                for row in rows:  # the row-by-row way: one INSERT statement per rating
                    cur.execute("INSERT INTO movielens.ratings (user_id, movie_id, rating, rated_at) "
                                "VALUES (%s, %s, %s, %s)", row)
            insert_s = time.perf_counter() - t
            print(f"movielens ratings: parse {parse_s:.2f} s; COPY {n} rows {copy_s:.2f} s; "
                  f"row-by-row INSERT {insert_s:.2f} s; COPY is {insert_s / copy_s:.1f}x faster")
    finally:
        embedded.stop_server(home / "pgdata")
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
