"""Offline evaluation protocol "T80" and ranking metrics.

T80: per user, ratings sorted by time (ties by movie id); the first ``max(floor(0.8 n), 1)`` are training,
the rest test. Models are fitted on all users' training ratings; each user's ranking covers every catalogue
movie not in that user's training set. Every test item counts as relevant, whatever its rating.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from movrec_pipeline.ranking.base import Recommender
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.ranking.topk import topk_scores

__all__ = ["catalog_coverage", "evaluate", "hit_at_k", "ndcg_at_k", "recall_at_k", "t80_split"]


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


def catalog_coverage(topk: np.ndarray, n_items: int, k: int) -> float:
    """Distinct items in all users' top-k lists divided by the catalogue size."""
    return float(len(np.unique(np.asarray(topk)[:, :k])) / n_items) if n_items else 0.0


def evaluate(
    recommender: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    item_ids: np.ndarray,
    item_text_vectors: np.ndarray | None = None,
    k_ndcg: int = 10,
    k_recall: int = 20,
) -> dict[str, float]:
    """Fit ``recommender`` on ``train`` and score the ranking of unseen catalogue items against ``test``.

    Keys: ``ndcg@k``, ``recall@k`` (denominator ``min(|test|, k)``), ``hr@k``, ``coverage@k``,
    ``cold_recall@k`` (recall@k_recall restricted to the user's cold test items - items no one rated in
    training - averaged over users having any; NaN if none), ``users`` (evaluated users: in train and with
    >= 1 test item in the catalogue), ``cold_users``, ``fit_seconds`` and ``seconds`` (fit + ranking).
    Test ratings of users absent from ``train`` or of movies outside ``item_ids`` are ignored.
    ``item_text_vectors`` rows follow ``item_ids`` (any order; the model sees them in sorted-id order).
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
    k = max(k_ndcg, k_recall)
    top, _ = topk_scores(recommender.score, data.n_users, k, exclude=data.seen())

    rows = np.searchsorted(data.user_ids, test["user_id"].to_numpy())
    rows = np.minimum(rows, data.n_users - 1)
    cols = np.searchsorted(data.item_ids, test["movie_id"].to_numpy())
    cols = np.minimum(cols, data.n_items - 1)
    ok = (data.user_ids[rows] == test["user_id"].to_numpy()) & (
        data.item_ids[cols] == test["movie_id"].to_numpy()
    )
    rows, cols = rows[ok], cols[ok]
    cold_item = data.item_counts() == 0

    ndcg, recall, hits, cold_recall = [], [], [], []
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, int)
    for s, e in zip(starts, np.r_[starts[1:], len(rows)], strict=True):
        u, rel = rows[s], np.unique(cols[s:e])
        ndcg.append(ndcg_at_k(top[u], rel, k_ndcg))
        recall.append(recall_at_k(top[u], rel, k_recall))
        hits.append(hit_at_k(top[u], rel, k_ndcg))
        cold = rel[cold_item[rel]]
        if len(cold):
            cold_recall.append(recall_at_k(top[u], cold, k_recall))
    evaluated = np.unique(rows)
    return {
        f"ndcg@{k_ndcg}": float(np.mean(ndcg)) if ndcg else float("nan"),
        f"recall@{k_recall}": float(np.mean(recall)) if recall else float("nan"),
        f"hr@{k_ndcg}": float(np.mean(hits)) if hits else float("nan"),
        f"coverage@{k_ndcg}": catalog_coverage(top[evaluated], data.n_items, k_ndcg),
        f"cold_recall@{k_recall}": float(np.mean(cold_recall)) if cold_recall else float("nan"),
        "users": float(len(ndcg)),
        "cold_users": float(len(cold_recall)),
        "fit_seconds": fit_seconds,
        "seconds": time.perf_counter() - start,
    }
