"""Popularity: training interaction counts (all time, or the last days of the training window), the same list
for every user."""

from __future__ import annotations

import numpy as np

from movrec_pipeline.ranking.interactions import InteractionData


class PopularityRecommender:
    """Scores every item by its number of training interactions (same list for every user)."""

    name = "popularity"

    def fit(
        self, data: InteractionData, item_text_vectors: np.ndarray | None = None
    ) -> PopularityRecommender:
        self.counts_ = data.item_counts().astype(np.float32)
        self.seen_ = data.seen()
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.tile(self.counts_, (len(user_rows), 1))

    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray:
        return self.score(user_rows)

    def rank_unseen(self, data: InteractionData | None, k: int, block: int = 2048) -> np.ndarray:
        """(users, k) item columns: the most popular items each user has not seen (-1 past the end), for
        ``data``'s users or the fitted ones. One ranking for everyone, so each user reads only its prefix of
        ``k`` + (their number of seen items) places: never a users x items matrix."""
        seen = self.seen_ if data is None else data.seen()
        order = np.argsort(-self.counts_, kind="stable")  # ties: lower column, as topk_rows
        place = np.empty_like(order)
        place[order] = np.arange(len(order))
        per_user = np.diff(seen.indptr)
        out = np.full((seen.shape[0], k), -1, np.int64)
        for lo in range(0, seen.shape[0], block):
            rows = np.arange(lo, min(lo + block, seen.shape[0]))
            width = min(len(order), k + int(per_user[rows].max(initial=0)))
            sub = seen[rows].tocoo()
            hidden = np.zeros((len(rows), width), bool)
            near = place[sub.col] < width
            hidden[sub.row[near], place[sub.col[near]]] = True
            first = np.argsort(hidden, axis=1, kind="stable")[:, :k]  # unseen places first, in order
            cols = np.where(np.take_along_axis(hidden, first, axis=1), -1, order[first])
            out[rows, : cols.shape[1]] = cols
        return out

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        return []  # not personalised: no training item contributes


class RecentPopularityRecommender(PopularityRecommender):
    """Interactions in the last ``days`` of the training window (ties: all-time counts), the same for everyone.

    On a temporal split this is the popularity to beat: what is watched now, not what was watched in 1996.
    """

    def __init__(self, days: float = 90.0, name: str | None = None):
        self.days = days
        self.name = name or f"recent_popularity_{days:g}d"

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None
            ) -> RecentPopularityRecommender:
        if data.times is None or data.times.nnz == 0:
            return super().fit(data)
        times = data.times.tocsc()
        recent = times.data >= times.data.max() - self.days * 86_400.0
        cols = np.repeat(np.arange(data.n_items), np.diff(times.indptr))
        counts = np.bincount(cols[recent], minlength=data.n_items).astype(np.float64)
        all_time = data.item_counts()
        self.counts_ = (counts + all_time / (all_time.max() + 1.0)).astype(np.float32)  # ties: all-time counts
        self.seen_ = data.seen()
        return self
