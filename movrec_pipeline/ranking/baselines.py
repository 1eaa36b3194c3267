"""The baselines the project's method is measured against, their tuning grids and the values tuning chose.

``TUNED`` holds what ``bench/evaluate_movielens.py --tune`` chose on ml-latest-small, on the validation split
of the T80 training data (each user's last 10 % of training ratings; the test ratings never seen), NDCG@10;
the grids are ``GRIDS``. The evaluation asset uses these values for whatever release is loaded. The
expensive baseline (SASRec) lives in bench/ only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from movrec_pipeline.ranking.base import Recommender
from movrec_pipeline.ranking.ease import EASERecommender
from movrec_pipeline.ranking.ials import IALSRecommender
from movrec_pipeline.ranking.mean_profile import MeanProfileRecommender
from movrec_pipeline.ranking.popularity import PopularityRecommender, RecentPopularityRecommender
from movrec_pipeline.ranking.rp3beta import RP3betaRecommender

HEAD_ITEMS = 20_000  # EASE's dense model covers at most this many items (all of them on ml-latest-small)
FACTORIES: dict[str, Callable[..., Recommender]] = {
    "popularity": lambda: PopularityRecommender(),
    "recent_popularity": lambda **p: RecentPopularityRecommender(name="recent_popularity", **p),
    "ease": lambda **p: EASERecommender(name="ease", head_items=HEAD_ITEMS, **p),
    "rp3beta": lambda **p: RP3betaRecommender(name="rp3beta", **p),
    "ials": lambda **p: IALSRecommender(name="ials", **p),
    "mean_profile_svd": lambda: MeanProfileRecommender("svd", name="mean_profile_svd"),
}
GRIDS: dict[str, dict[str, list[Any]]] = {
    "recent_popularity": {"days": [7, 30, 90, 180, 365, 730]},
    "ease": {"lambda_": [50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0]},
    "rp3beta": {"alpha": [0.6, 0.8, 1.0], "beta": [0.2, 0.35, 0.5], "neighbours": [100, 300]},
    "ials": {"factors": [64, 128, 256], "regularization": [0.01, 0.1, 1.0], "alpha": [1.0, 10.0, 30.0]},
}
TUNED: dict[str, dict[str, Any]] = {  # chosen on the T80 validation split, 1 December 2026
    "recent_popularity": {"days": 730},
    "ease": {"lambda_": 200.0},
    "rp3beta": {"alpha": 0.6, "beta": 0.5, "neighbours": 300},
    "ials": {"factors": 64, "regularization": 1.0, "alpha": 1.0},
}
# the project's method (HybridRecommender), tuned by the same bench on the same validation split: lambda_, then
# content_weight x recency_half_life, then the most cold slots (at the end of the top 20) that keep Recall@20
TUNED_HYBRID: dict[str, Any] = {"lambda_": 200.0, "content_weight": 0.3, "recency_half_life": 3.0,
                                 "cold_slots": 5, "protect_top": 15}
# cheap enough for the evaluation asset at every size (EASE on its 20k head: a dense items² model is not)
CHEAP = ("popularity", "recent_popularity", "ease", "rp3beta", "ials", "mean_profile_svd")


def make(name: str, **params: Any) -> Recommender:
    """A fresh baseline: the tuned values, overridden by ``params``."""
    return FACTORIES[name](**{**TUNED.get(name, {}), **params})
