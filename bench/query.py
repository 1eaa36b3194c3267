"""Latency of the query API (in-process, one read-only connection) against a populated database.

    MOVREC_HOME=/tmp/movrec_cli_dev .venv/bin/python bench/query.py [--rounds 200]

Every case is warmed up first (that also loads the embedding model for ``semantic``), then called
``rounds`` times with rotating inputs; prints p50/p95 in milliseconds. Goal: p50 < 20 ms for table reads
and index (HNSW) queries.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from movrec_pipeline import query
from movrec_pipeline.query import models
from movrec_pipeline.query.models import active_text_model

WORDS = ["dark knight", "toy story", "lord", "star wars", "matrix", "love", "war", "alien", "king", "comedy 1995"]
DESCRIPTIONS = ["a sci-fi thriller about dreams and reality", "a heartwarming family comedy with talking animals",
                "a gritty crime drama in new york", "a documentary about climate change",
                "a romantic comedy set in paris", "a haunted house horror movie"]


def sample_inputs(conn) -> dict[str, list]:
    """Customers with stored picks, movies with similar lists, shows with vectors (first 50 of each)."""
    model = active_text_model(conn)
    with conn.transaction():
        customers = [r[0] for r in conn.execute(
            "SELECT DISTINCT customer_id FROM movrec.customer_netflix_recommendations ORDER BY 1 LIMIT 50")]
        movies = [r[0] for r in conn.execute(
            "SELECT DISTINCT movie_id FROM movrec.movielens_similar_movies ORDER BY 1 LIMIT 50")]
        shows = [r[0] for r in conn.execute(
            "SELECT item_key FROM movrec.item_embeddings WHERE item_kind = 'netflix' AND model_id = %s "
            "ORDER BY item_key LIMIT 50", (model.model_id,))]
    return {"customers": customers, "movies": movies, "shows": shows, "model": [model.label]}


def measure(call: Callable[[], object], rounds: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


class MemoEmbedder:
    """The active embedder with answers remembered: isolates the index part of ``semantic``."""

    def __init__(self, inner) -> None:
        self.inner, self.memo = inner, {}

    def embed(self, texts: list[str]):
        key = tuple(texts)
        if key not in self.memo:
            self.memo[key] = self.inner.embed(texts)
        return self.memo[key]


def semantic_memoised(memo: MemoEmbedder, text: str, conn) -> object:
    real = models.embedder
    models.embedder = lambda: memo
    try:
        return query.semantic_search(text, 10, conn=conn)
    finally:
        models.embedder = real


def cases(conn, inputs: dict[str, list]) -> dict[str, Callable[[], object]]:
    customers, movies = itertools.cycle(inputs["customers"]), itertools.cycle(inputs["movies"])
    shows, words, texts = itertools.cycle(inputs["shows"]), itertools.cycle(WORDS), itertools.cycle(DESCRIPTIONS)
    embedder = models.embedder()
    memo = MemoEmbedder(embedder)
    return {
        "recommend (table)": lambda: query.recommend_for_customer(next(customers), 10, conn=conn),
        "recommend --live (HNSW)": lambda: query.recommend_for_customer(next(customers), 10, live=True, conn=conn),
        "recommend --ml-user (table)": lambda: query.recommend_for_user(next(customers), 10, conn=conn),
        "recommend --from-movies (SVD scan)": lambda: query.recommend_from_movies(
            [next(movies), next(movies)], [next(movies)], 10, conn=conn),
        "similar --movie-id (table)": lambda: query.similar_movies(next(movies), 10, conn=conn),
        "similar --show (HNSW)": lambda: query.similar_shows(next(shows), 10, conn=conn),
        "search (GIN)": lambda: query.search_movies(next(words), 10, conn=conn),
        "search --ml-user (GIN + re-rank)": lambda: query.search_movies(next(words), 10, user_id=7, conn=conn),
        "semantic: embed only": lambda: embedder.embed([next(texts)]),
        "semantic (embed + 2 HNSW)": lambda: query.semantic_search(next(texts), 10, conn=conn),
        "semantic, embedding memoised (2 HNSW)": lambda: semantic_memoised(memo, next(texts), conn),
        "browse --genres (view)": lambda: query.browse_movies(genres=["Action"], min_rating=4, conn=conn),
        "browse --top-rated (view)": lambda: query.browse_movies(order="top-rated", conn=conn),
        "explain": lambda: query.explain_recommendation(next(customers), next(shows), conn=conn),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with query.connect() as conn:
        inputs = sample_inputs(conn)
        print(f"database {conn.info.dbname} on {conn.info.host}; model {inputs['model'][0]}; "
              f"{args.rounds} calls per case after 3 warm-up calls")
        print(f"{'case':38} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
        for name, call in cases(conn, inputs).items():
            rounds = args.rounds if "browse" not in name else max(10, args.rounds // 10)
            times = measure(call, rounds)
            p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
            print(f"{name:38} {statistics.median(times):8.2f} {p95:8.2f} {statistics.fmean(times):8.2f}")


if __name__ == "__main__":
    main()
