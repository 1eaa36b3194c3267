"""Choosing the served model on the data's own validation split: the family holds EASE, session order is found,
the choice survives the warehouse round trip, and the search starts from the last choice."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from movrec_pipeline.ranking import selection

ROOT = Path(__file__).resolve().parents[2]


def _generate(tmp: Path, sessions: bool) -> tuple[pd.DataFrame, np.ndarray]:
    spec = importlib.util.spec_from_file_location("synthetic_movielens", ROOT / "bench" / "synthetic_movielens.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = tmp / ("sessions" if sessions else "plain")
    gen.generate(out, 250, 800, 12_000, seed=5, sessions=sessions)
    ratings = pd.read_csv(out / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "movie_id", "timestamp": "rated_at"})
    return ratings, np.sort(pd.read_csv(out / "movies.csv")["movieId"].to_numpy())


@pytest.fixture(scope="module")
def session_data(tmp_path_factory) -> tuple[pd.DataFrame, np.ndarray]:
    return _generate(tmp_path_factory.mktemp("selection"), sessions=True)


@pytest.fixture(scope="module")
def chosen(session_data) -> selection.Selection:
    ratings, items = session_data
    return selection.select(ratings, items, None)


def test_the_served_hybrid_is_never_below_plain_ease_on_validation(chosen: selection.Selection) -> None:
    served = chosen.best_validation(selection.SERVED)
    ease = chosen.best_validation("ease")
    assert served is not None and ease is not None and served["ndcg@10"] >= ease["ndcg@10"]
    assert {r["method"] for r in chosen.validation} >= {"ease", "rp3beta", "ials", "recent_popularity",
                                                        "popularity", "mean_profile_svd"}
    assert set(chosen.baselines) >= {"ease", "rp3beta", "ials", "recent_popularity"}


def test_session_order_is_found_by_the_recency_setting(chosen: selection.Selection) -> None:
    assert chosen.settings["recency_half_life"] > 0  # the last ratings predict the next ones on this data
    no_recency = [r for r in chosen.validation if r["method"] == selection.SERVED
                  and r["settings"]["recency_half_life"] == 0.0]
    assert no_recency and max(r["ndcg@10"] for r in no_recency) < chosen.best_validation(
        selection.SERVED)["ndcg@10"]


def test_a_choice_survives_its_json_round_trip(chosen: selection.Selection) -> None:
    again = selection.Selection.from_record(json.loads(json.dumps(chosen.as_record())))
    assert again.settings == chosen.settings and again.baselines == chosen.baselines
    assert again.validation == chosen.validation and again.note == chosen.note


def test_the_search_starts_from_the_last_choice(session_data, monkeypatch) -> None:
    ratings, items = session_data
    monkeypatch.setattr(selection, "BASELINE_GRIDS", {})  # only the hybrid's search is looked at here
    previous = selection.default_selection()
    previous.settings["lambda_"] = 40.0
    again = selection.select(ratings, items, None, previous=previous)
    lambdas = {r["settings"]["lambda_"] for r in again.validation if r["method"] == "ease"}
    assert lambdas == {round(40.0 * s, 1) for s in selection.LAMBDA_STEPS}
