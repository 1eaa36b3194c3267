"""Recommendation benchmarks, measured side by side in one run (issue: recommendations).

1. all customers' top-10 Netflix shows from the stored vectors (exact, in memory; goal < 1 s);
2. synthetic 100k users × 10k items × 384 dims exact top-10: time (goal < 30 s on 2 cores) and its
   ratio to this machine's measured float32 matrix-multiply bound; peak memory;
3. pgvector LATERAL (index per customer) vs the in-memory path on the real Netflix vectors:
   throughput and recall@10 of the index path against the exact in-memory result.

Usage: .venv/bin/python bench/recommend.py   (reads the warehouse of $MOVREC_HOME, default .movrec, after
`movrec materialize`)
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_gflops() -> float:
    """Best of 3: float32 (4096 × 384) @ (384 × 10000), the shape of one scoring chunk."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, 384), dtype=np.float32)
    b = rng.standard_normal((384, 10_000), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(3))
    return 2 * 4096 * 384 * 10_000 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_customers(conn, model_id: int, dims: int) -> tuple[list, np.ndarray, list]:
    import pandas as pd

    from movrec_pipeline.ranking.show_picks import recommend_shows
    from movrec_pipeline.warehouse import sqlfiles, vectors

    show_keys, shows = vectors.fetch_vectors(conn, "netflix", model_id, dims)
    film_keys, films = vectors.fetch_vectors(conn, "film", model_id, dims)
    profiles = conn.execute("SELECT customer_id, profile FROM movrec.customer_profiles WHERE model_id = %s "
                            "ORDER BY customer_id", (model_id,)).fetchall()
    with conn.cursor() as cur:
        cur.execute(sqlfiles.load("recommendations/customer_rentals"))
        rentals = pd.DataFrame(cur.fetchall(), columns=["customer_id", "film_id", "rental_date"])
    titles = dict(conn.execute("SELECT film_id, title FROM dvdrental.film").fetchall())
    t = time.perf_counter()
    frame = recommend_shows(profiles, show_keys, shows, film_keys, films, rentals, titles, 10)
    seconds = time.perf_counter() - t
    print(f"1. {frame['customer_id'].nunique()} customers × top-10 of {len(show_keys)} shows (with explanations): "
          f"{seconds * 1000:.0f} ms (goal < 1 s)")
    return profiles, shows, show_keys


def bench_synthetic(gflops: float) -> None:
    from movrec_pipeline.ranking.topk import cosine_topk

    rng = np.random.default_rng(1)
    users = rng.standard_normal((100_000, 384), dtype=np.float32)
    items = rng.standard_normal((10_000, 384), dtype=np.float32)
    before = rss_mib()
    t = time.perf_counter()
    idx, _ = cosine_topk(users, items, 10)
    seconds = time.perf_counter() - t
    bound = 2 * 100_000 * 10_000 * 384 / (gflops * 1e9)
    print(f"2. synthetic 100k users × 10k items × 384 d exact top-10: {seconds:.1f} s (goal < 30 s); "
          f"matmul bound at {gflops:.0f} GFLOP/s = {bound:.1f} s → {bound / seconds:.2f} of the bound; "
          f"peak RSS {rss_mib():.0f} MiB (inputs {(users.nbytes + items.nbytes) / 2**20:.0f} MiB, "
          f"growth {rss_mib() - before:.0f} MiB); result {idx.shape}")


def bench_lateral(conn, model_id: int, dims: int, profiles, shows, show_keys) -> None:
    from psycopg import sql

    from movrec_pipeline.ranking.topk import cosine_topk
    from movrec_pipeline.warehouse import sqlfiles, vectors

    matrix = np.vstack([p.to_numpy() for _, p in profiles]).astype(np.float32)
    t = time.perf_counter()
    idx, _ = cosine_topk(matrix, shows, 10)
    mem_s = time.perf_counter() - t
    exact = {(int(c), show_keys[j]) for (c, _), row in zip(profiles, idx, strict=True) for j in row}
    vectors.set_search_params(conn, 10)
    query = sql.SQL(sqlfiles.load("recommendations/customer_recs_lateral")).format(dim=sql.Literal(dims))
    t = time.perf_counter()
    rows = conn.execute(query, {"model_id": model_id, "k": 10}).fetchall()
    lat_s = time.perf_counter() - t
    got = {(int(c), s) for c, s, _ in rows}
    n = len(profiles)
    print(f"3. {n} customers on real Netflix vectors: in-memory {mem_s * 1000:.0f} ms ({n / mem_s:.0f} customers/s); "
          f"pgvector LATERAL + HNSW {lat_s * 1000:.0f} ms ({n / lat_s:.0f} customers/s) → in-memory "
          f"{lat_s / mem_s:.1f}× faster; LATERAL recall@10 vs exact {len(got & exact) / len(exact):.4f}")


def main() -> None:
    from movrec_pipeline.warehouse import connection

    url = connection.warehouse_url()
    with connection.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT m.model_id, m.dimensions FROM movrec.customer_profiles p "
                           "JOIN movrec.embedding_models m USING (model_id) LIMIT 1").fetchone()
        if row is None:
            sys.exit("no customer profiles yet: run `movrec materialize` first")
        model_id, dims = row
        profiles, shows, show_keys = bench_customers(conn, model_id, dims)
        bench_lateral(conn, model_id, dims, profiles, shows, show_keys)
    bench_synthetic(matmul_gflops())


if __name__ == "__main__":
    main()
