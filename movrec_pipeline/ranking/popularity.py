"""Popularity: training interaction counts, the same list for every user."""

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

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        return []  # not personalised: no training item contributes
