"""bench/synthetic_movielens.py: the exact shape asked for, MovieLens's formats and statistics, and structure a
recommender can learn (a small shape: about a second)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from movrec_pipeline.ingest.movielens_csv import parse_links, parse_movies, parse_ratings, parse_tags
from movrec_pipeline.ranking.ease import EASERecommender
from movrec_pipeline.ranking.evaluation import evaluate, t80_split
from movrec_pipeline.ranking.popularity import PopularityRecommender

ROOT = Path(__file__).resolve().parents[2]
USERS, MOVIES, RATINGS = 600, 3_000, 36_000


def generator():
    spec = importlib.util.spec_from_file_location("synthetic_movielens", ROOT / "bench" / "synthetic_movielens.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synthetic") / "ml-shape"
    figures = generator().generate(out, USERS, MOVIES, RATINGS, seed=3)
    return out, figures


@pytest.fixture(scope="module")
def parsed(generated) -> dict:
    out, _ = generated
    movies = parse_movies(out / "movies.csv")
    known = set(movies.rows["movie_id"].astype(int))
    return {"movies": movies, "ratings": parse_ratings(out / "ratings.csv", known),
            "links": parse_links(out / "links.csv", known), "tags": parse_tags(out / "tags.csv", known)}


def test_exact_shape_read_cleanly_by_the_pipeline_parsers(generated, parsed) -> None:
    _, figures = generated
    assert (figures["users"], figures["movies"], figures["ratings"]) == (USERS, MOVIES, RATINGS)
    assert {name: len(result.quarantine) for name, result in parsed.items()} == dict.fromkeys(parsed, 0)
    ratings = parsed["ratings"].rows
    assert len(ratings) == RATINGS and ratings["user_id"].nunique() == USERS
    assert len(parsed["movies"].rows) == len(parsed["links"].rows) == MOVIES
    assert len(parsed["tags"].rows) == figures["tags"] > RATINGS / 30


def test_statistics_that_drive_cost_and_quality(parsed) -> None:
    ratings = parsed["ratings"].rows
    per_user = ratings.groupby("user_id").size()
    assert per_user.min() >= 20 and per_user.max() > 5 * per_user.median()  # >= 20 each, long-tailed activity
    assert set(np.unique(ratings["rating"])) <= set(np.arange(1, 11) / 2) and ratings["rating"].nunique() >= 8
    per_movie = ratings["movie_id"].value_counts().to_numpy()
    assert per_movie[: MOVIES // 10].sum() > 0.35 * RATINGS  # Zipf-like: the top 10 % of movies get > 35 %
    assert ratings["rated_at"].between(pd.Timestamp("1995-01-09", tz="UTC"), pd.Timestamp("2023-10-13", tz="UTC")).all()
    tags = parsed["tags"].rows.merge(ratings[["user_id", "movie_id"]], on=["user_id", "movie_id"], how="left",
                                     indicator=True)
    assert (tags["_merge"] == "both").all()  # a tag is on a movie its user rated


def test_each_users_ratings_are_in_time_order_in_the_file(generated) -> None:
    out, _ = generated
    raw = pd.read_csv(out / "ratings.csv")
    assert (raw.groupby("userId")["timestamp"].diff().dropna() >= 0).all()


def test_same_seed_same_bytes_other_seed_other_data(generated, tmp_path: Path) -> None:
    out, _ = generated
    gen = generator()
    gen.generate(tmp_path / "again", USERS, MOVIES, RATINGS, seed=3)
    gen.generate(tmp_path / "other", USERS, MOVIES, RATINGS, seed=4)
    for name in ("movies.csv", "ratings.csv", "links.csv", "tags.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()
    assert (tmp_path / "other" / "ratings.csv").read_bytes() != (out / "ratings.csv").read_bytes()


def test_latent_structure_is_learnable_on_a_temporal_split(parsed) -> None:
    ratings = parsed["ratings"].rows
    train, test = t80_split(ratings)
    items = parsed["movies"].rows["movie_id"].to_numpy()
    ease = evaluate(EASERecommender(lambda_=200.0), train, test, items)
    popularity = evaluate(PopularityRecommender(), train, test, items)
    assert ease["ndcg@10"] > 1.4 * popularity["ndcg@10"], (ease, popularity)  # 2.2x with seed 3


def _successor_share(out: Path, gen) -> float:
    """Share of a user's consecutive ratings where the second movie is the next title of the first's series."""
    movies = pd.read_csv(out / "movies.csv")
    rng = np.random.default_rng(3)  # the catalogue is the first thing drawn from the seed: draw it again
    ids, cluster, _, popularity, _, _ = gen.catalogue(rng, len(movies))
    successor = gen.series_successor(cluster, popularity)
    position = {int(m): i for i, m in enumerate(ids)}
    raw = pd.read_csv(out / "ratings.csv")
    cols = raw["movieId"].map(position).to_numpy()
    same_user = raw["userId"].to_numpy()[1:] == raw["userId"].to_numpy()[:-1]
    return float((successor[cols[:-1]] == cols[1:])[same_user].mean())


def test_session_order_makes_the_last_ratings_predict_the_next(generated, tmp_path: Path) -> None:
    out, _ = generated
    gen = generator()
    gen.generate(tmp_path / "sessions", USERS, MOVIES, RATINGS, seed=3, sessions=True)
    with_sessions, without = _successor_share(tmp_path / "sessions", gen), _successor_share(out, gen)
    assert with_sessions > 0.25 and without < 0.02, (with_sessions, without)
    raw = pd.read_csv(tmp_path / "sessions" / "ratings.csv")
    assert len(raw) == RATINGS and (raw.groupby("userId")["timestamp"].diff().dropna() >= 0).all()
    assert not raw.duplicated(["userId", "movieId"]).any()
