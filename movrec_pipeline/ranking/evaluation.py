"""Offline evaluation protocols (T80, k-fold users, new users, new titles, the validation split) and ranking metrics.

T80: per user, ratings sorted by time (ties by movie id); the first ``max(floor(0.8 n), 1)`` are training,
the rest test. Models are fitted on all users' training ratings; each user's ranking covers every catalogue
movie not in that user's training set. Every test item counts as relevant, whatever its rating.
K-fold users: each user is held out of training once; their first 80 % of ratings are folded in at scoring time
(no refit) and the rest are the test. Tuning uses neither test: :func:`validation_split` holds out
each user's last 10 % of training ratings. Recall@k divides by ``min(|test|, k)`` (Liang et al. 2018, the
EASE paper), so a perfect list scores 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from movrec_pipeline.ranking.base import Recommender
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.ranking.topk import topk_scores

__all__ = [
    "NEW_USER_COUNTS",
    "Evaluation",
    "catalog_coverage",
    "evaluate",
    "first_ratings",
    "hit_at_k",
    "kfold_users",
    "leave_items_out",
    "measure",
    "measure_fitted",
    "measure_rankings",
    "ndcg_at_k",
    "recall_at_k",
    "t80_split",
    "validation_split",
]

NEW_USER_COUNTS = (1, 3, 5, 10)  # a new user's first ratings, as the NEW protocols and the selection simulate them


def t80_split(ratings: pd.DataFrame, train_fraction: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each user's ratings in time order: first ``max(floor(0.8 n), 1)`` train, the rest test.

    Ties in ``rated_at`` are broken by ``movie_id``. Both frames keep the input columns and index and are
    sorted by (user_id, rated_at, movie_id).
    """
    ordered = ratings.sort_values(["user_id", "rated_at", "movie_id"], kind="mergesort")
    pos = ordered.groupby("user_id", sort=False).cumcount().to_numpy()
    n = ordered.groupby("user_id", sort=False)["user_id"].transform("size").to_numpy()
    is_train = pos < np.maximum(np.floor(train_fraction * n), 1)
    return ordered[is_train], ordered[~is_train]


def kfold_users(ratings: pd.DataFrame, k: int = 5, seed: int = 0, history: float = 0.8
                ) -> list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """K-fold cross-validation over users: every user is held out of training exactly once. For fold ``f``:
    (train: every rating of the other folds' users, history: the first ``history`` of the fold's users' ratings
    by time, given at scoring time, test: the rest of them)."""
    users = np.unique(ratings["user_id"].to_numpy())
    fold = np.empty(len(users), np.int64)
    fold[np.random.default_rng(seed).permutation(len(users))] = np.arange(len(users)) % k
    of_rating = fold[np.searchsorted(users, ratings["user_id"].to_numpy())]
    out = []
    for f in range(k):
        held = of_rating == f
        known, test = t80_split(ratings[held], history)
        out.append((ratings[~held], known, test))
    return out


def first_ratings(known: pd.DataFrame, test: pd.DataFrame, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A new user: only the first ``n`` ratings by time are known, every later one is the test (users with fewer
    than ``n + 1`` ratings are left out)."""
    every = pd.concat([known, test]).sort_values(["user_id", "rated_at", "movie_id"], kind="mergesort")
    pos = every.groupby("user_id", sort=False).cumcount().to_numpy()
    size = every.groupby("user_id", sort=False)["user_id"].transform("size").to_numpy()
    keep = size > n
    return every[keep & (pos < n)], every[keep & (pos >= n)]


def leave_items_out(train: pd.DataFrame, item_ids: np.ndarray, fraction: float = 0.1, seed: int = 0
                    ) -> tuple[pd.DataFrame, np.ndarray]:
    """New titles: a random ``fraction`` of the rated movies leaves training entirely (all their ratings).
    Returns (the training ratings without them, their ids)."""
    rated = np.unique(train["movie_id"].to_numpy())
    rated = rated[np.isin(rated, item_ids)]
    held = np.sort(np.random.default_rng(seed).permutation(rated)[: round(fraction * len(rated))])
    return train[~train["movie_id"].isin(held).to_numpy()], held


def validation_split(train: pd.DataFrame, fraction: float = 0.1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For tuning, from training data only: each user's last ``fraction`` of training ratings by time."""
    return t80_split(train, 1.0 - fraction)


def _dcg_discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Binary-gain NDCG@k; ideal DCG over ``min(|relevant|, k)`` hits. 0 when nothing is relevant."""
    if len(relevant) == 0:
        return 0.0
    disc = _dcg_discounts(k)
    hits = np.isin(np.asarray(ranked)[:k], relevant)
    return float((hits * disc[: len(hits)]).sum() / disc[: min(len(relevant), k)].sum())


def recall_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Hits in the top-k divided by ``min(|relevant|, k)`` (so a perfect list scores 1 even when the user
    has more than k relevant items). 0 when nothing is relevant."""
    if len(relevant) == 0:
        return 0.0
    return float(np.isin(np.asarray(ranked)[:k], relevant).sum() / min(len(relevant), k))


def hit_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """1.0 if at least one relevant item is in the top-k, else 0.0."""
    return float(np.isin(np.asarray(ranked)[:k], relevant).any())


def _ndcg(hit: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """Per row, :func:`ndcg_at_k` of a hit matrix (rows: users, columns: ranks) with ``n_rel`` relevant items."""
    disc = _dcg_discounts(k)
    ideal = np.r_[0.0, np.cumsum(disc)][np.minimum(n_rel, k)]
    dcg = (hit[:, :k] * disc[: min(k, hit.shape[1])]).sum(axis=1)
    return np.divide(dcg, ideal, out=np.zeros(len(dcg)), where=ideal > 0)


def _recall(hit: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """Per row, :func:`recall_at_k` of a hit matrix with ``n_rel`` relevant items."""
    return np.divide(hit[:, :k].sum(axis=1), np.minimum(n_rel, k), out=np.zeros(len(hit)), where=n_rel > 0)


def catalog_coverage(topk: np.ndarray, n_items: int, k: int) -> float:
    """Distinct items in all users' top-k lists divided by the catalogue size."""
    return float(len(np.unique(np.asarray(topk)[:, :k])) / n_items) if n_items else 0.0


@dataclass
class Evaluation:
    """Per-user metrics of one method on one protocol (arrays follow ``user_ids``), and what it cost."""

    user_ids: np.ndarray
    ndcg: np.ndarray
    recall: np.ndarray
    hits: np.ndarray
    cold_recall: np.ndarray  # NaN for users without a cold test item
    coverage: float
    fit_seconds: float
    seconds: float
    k_ndcg: int = 10
    k_recall: int = 20
    top: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32), repr=False)  # evaluated rows
    cold_ndcg: np.ndarray = field(default_factory=lambda: np.zeros(0))  # NDCG@k_recall over cold items; NaN: none

    def summary(self) -> dict[str, float]:
        """Means over users, with the keys :func:`evaluate` returns."""
        cold = self.cold_recall[~np.isnan(self.cold_recall)]

        def mean(a: np.ndarray) -> float:
            return float(np.mean(a)) if len(a) else float("nan")

        return {
            f"ndcg@{self.k_ndcg}": mean(self.ndcg), f"recall@{self.k_recall}": mean(self.recall),
            f"hr@{self.k_ndcg}": mean(self.hits), f"coverage@{self.k_ndcg}": self.coverage,
            f"cold_recall@{self.k_recall}": mean(cold),
            f"cold_ndcg@{self.k_recall}": mean(self.cold_ndcg[~np.isnan(self.cold_ndcg)]),
            "users": float(len(self.ndcg)),
            "cold_users": float(len(cold)), "fit_seconds": self.fit_seconds, "seconds": self.seconds,
        }


def evaluate(*args, **kwargs) -> dict[str, float]:
    """:func:`measure`'s means over users (keys as :meth:`Evaluation.summary`)."""
    return measure(*args, **kwargs).summary()


def measure(
    recommender: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    item_ids: np.ndarray,
    item_text_vectors: np.ndarray | None = None,
    k_ndcg: int = 10,
    k_recall: int = 20,
    history: pd.DataFrame | None = None,
) -> Evaluation:
    """Fit ``recommender`` on ``train`` and measure its ranking of unseen catalogue items against ``test``.

    Per user: NDCG@k, Recall@k (denominator ``min(|test|, k)``), HR@k and cold Recall@k_recall (restricted to
    the user's cold test items - items no one rated in training; NaN for users without any); coverage@k over all
    lists. Users evaluated: in ``train`` (or ``history``) with >= 1 test item in the catalogue. Test ratings of
    other users or of movies outside ``item_ids`` are ignored. ``item_text_vectors`` rows follow ``item_ids``
    (any order; the model sees them in sorted-id order). With ``history`` (held-out users) the test users are
    those of ``history``, folded in at scoring time.
    """
    start = time.perf_counter()
    item_ids = np.asarray(item_ids)
    if len(np.unique(item_ids)) != len(item_ids):
        raise ValueError("item_ids must be unique")
    if item_text_vectors is not None:
        if len(item_text_vectors) != len(item_ids):
            raise ValueError("item_text_vectors must have one row per item id")
        item_text_vectors = np.asarray(item_text_vectors)[np.argsort(item_ids, kind="stable")]  # data order
    data = InteractionData.from_ratings(train, item_ids=item_ids)
    recommender.fit(data, item_text_vectors)
    fit_seconds = time.perf_counter() - start
    return measure_fitted(recommender, data, test, history, k_ndcg, k_recall, fit_seconds, start)


def measure_fitted(recommender: Recommender, data: InteractionData, test: pd.DataFrame,
                   history: pd.DataFrame | None = None, k_ndcg: int = 10, k_recall: int = 20,
                   fit_seconds: float = 0.0, start: float | None = None) -> Evaluation:
    """:func:`measure` for a recommender already fitted on ``data``: its own users, or ``history``'s folded in."""
    start = time.perf_counter() if start is None else start
    if history is None:
        users, score = data, recommender.score
    else:
        users = InteractionData.from_ratings(history, item_ids=data.item_ids)

        def score(rows: np.ndarray) -> np.ndarray:
            return recommender.scores_for(users, rows)

    k = max(k_ndcg, k_recall)
    if hasattr(recommender, "rank_unseen"):  # ranks from its own lists (no full score matrix)
        top = recommender.rank_unseen(None if history is None else users, k)
    else:
        top, _ = topk_scores(score, users.n_users, k, exclude=users.seen())
    return measure_rankings(top, users, test, data.item_counts() == 0, k_ndcg, k_recall, fit_seconds, start)


def measure_rankings(top: np.ndarray, users: InteractionData, test: pd.DataFrame, cold_item: np.ndarray,
                     k_ndcg: int = 10, k_recall: int = 20, fit_seconds: float = 0.0, start: float | None = None
                     ) -> Evaluation:
    """Per-user metrics of rankings ``top`` (rows follow ``users``) against ``test``; ``cold_item`` marks the
    items nobody rated in training."""
    start = time.perf_counter() if start is None else start
    rows = np.minimum(np.searchsorted(users.user_ids, test["user_id"].to_numpy()), max(users.n_users - 1, 0))
    cols = np.minimum(np.searchsorted(users.item_ids, test["movie_id"].to_numpy()), users.n_items - 1)
    ok = (users.user_ids[rows] == test["user_id"].to_numpy()) & (users.item_ids[cols] == test["movie_id"].to_numpy())
    rows, cols = rows[ok], cols[ok]
    width = np.int64(users.n_items)
    keys = np.unique(rows.astype(np.int64) * width + cols)  # (user row, item col) pairs, each once, sorted
    key_rows = keys // width
    evaluated = np.unique(key_rows)
    is_cold = cold_item[keys % width]
    n_rel = np.bincount(np.searchsorted(evaluated, key_rows), minlength=len(evaluated))
    n_cold = np.bincount(np.searchsorted(evaluated, key_rows[is_cold]), minlength=len(evaluated))
    k = min(max(k_ndcg, k_recall), top.shape[1]) if top.ndim == 2 else 0
    ranked = top[evaluated, :k].astype(np.int64)
    ranked_keys = np.where(ranked >= 0, evaluated[:, None].astype(np.int64) * width + ranked, -1)  # -1: no item
    hit = np.isin(ranked_keys, keys)  # (users, k): is the item at this rank relevant
    cold_hit = hit & cold_item[np.clip(ranked, 0, len(cold_item) - 1)]  # padded ranks never hit
    ndcg, recall, hits = _ndcg(hit, n_rel, k_ndcg), _recall(hit, n_rel, k_recall), hit[:, :k_ndcg].any(axis=1) * 1.0
    cold_recall = np.where(n_cold > 0, _recall(cold_hit, n_cold, k_recall), np.nan)
    cold_ndcg = np.where(n_cold > 0, _ndcg(cold_hit, n_cold, k_recall), np.nan)
    return Evaluation(users.user_ids[evaluated], ndcg, recall, hits, cold_recall,
                      catalog_coverage(top[evaluated], users.n_items, k_ndcg), fit_seconds,
                      time.perf_counter() - start, k_ndcg, k_recall, top[evaluated], cold_ndcg)
