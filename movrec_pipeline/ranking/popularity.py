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
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.tile(self.counts_, (len(user_rows), 1))

    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray:
        return self.score(user_rows)

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
        return self
