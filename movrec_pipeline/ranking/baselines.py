"""The baselines the served method is measured against, and the values tuned once on ml-latest-small.

``TUNED`` holds what the validation split of ml-latest-small chose (T80 training data minus each user's last
10 %, NDCG@10); they are where the daily model selection starts before it has a choice of its own
(:mod:`movrec_pipeline.ranking.selection` tunes every baseline on the loaded data's own validation split). The
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
    "ease": lambda **p: EASERecommender(name="ease", **p),
    "rp3beta": lambda **p: RP3betaRecommender(name="rp3beta", **p),
    "ials": lambda **p: IALSRecommender(name="ials", **p),
    "mean_profile_svd": lambda: MeanProfileRecommender("svd", name="mean_profile_svd"),
}
TUNED: dict[str, dict[str, Any]] = {  # chosen on the T80 validation split, 1 December 2026
    "recent_popularity": {"days": 730},
    "ease": {"lambda_": 200.0},
    "rp3beta": {"alpha": 0.6, "beta": 0.5, "neighbours": 300},
    "ials": {"factors": 64, "regularization": 1.0, "alpha": 1.0},
}


HEADED = ("ease", "rp3beta")  # item-item models kept on the most-rated items only


def make(name: str, head_items: int = HEAD_ITEMS, **params: Any) -> Recommender:
    """A fresh baseline: the tuned values, overridden by ``params``; item-item models on ``head_items`` items."""
    head = {"head_items": head_items} if name in HEADED else {}
    return FACTORIES[name](**{**TUNED.get(name, {}), **params, **head})
