"""The replaced systems' method: a user's profile is the mean of their items' vectors; score = cosine."""

from __future__ import annotations

import numpy as np

from movrec_pipeline.ranking.base import explain_shares
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.ranking.svd import truncated_svd_item_vectors
from movrec_pipeline.ranking.topk import normalize_rows


class MeanProfileRecommender:
    """The replaced systems' method: user profile = mean of the user's item vectors; score = cosine to every item.

    ``vectors``: ``"svd"`` (``truncated_svd_item_vectors`` of the training data), ``"text"`` (the text
    vectors given to ``fit``) or an explicit (I, d) array. Items with a zero vector score -2 (below any
    cosine); users whose profile is zero score 0 everywhere.
    """

    def __init__(
        self, vectors: str | np.ndarray = "svd", dims: int = 64, seed: int = 0, name: str | None = None
    ):
        self.vectors, self.dims, self.seed = vectors, dims, seed
        self.name = name or f"mean_profile_{vectors if isinstance(vectors, str) else 'custom'}"

    def fit(
        self, data: InteractionData, item_text_vectors: np.ndarray | None = None
    ) -> MeanProfileRecommender:
        if isinstance(self.vectors, str) and self.vectors == "svd":
            vec = truncated_svd_item_vectors(data, self.dims, self.seed)
        elif isinstance(self.vectors, str) and self.vectors == "text":
            if item_text_vectors is None:
                raise ValueError("MeanProfileRecommender('text') needs item_text_vectors")
            vec = item_text_vectors
        else:
            vec = np.asarray(self.vectors)
        self.items_ = normalize_rows(vec)
        self.item_ok_ = np.linalg.norm(self.items_, axis=1) > 0
        seen = data.seen()
        counts = np.maximum(np.diff(seen.indptr), 1).astype(np.float32)
        self.seen_ = seen
        self.profiles_ = np.asarray(seen @ self.items_) / counts[:, None]
        self.norms_ = np.linalg.norm(self.profiles_, axis=1)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        prof = normalize_rows(self.profiles_[user_rows])
        s = prof @ self.items_.T
        s[:, ~self.item_ok_] = -2.0
        return s.astype(np.float32)

    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray:
        seen = data.seen()[user_rows]
        counts = np.maximum(np.diff(seen.indptr), 1).astype(np.float32)
        prof = normalize_rows(np.asarray(seen @ self.items_) / counts[:, None])
        s = prof @ self.items_.T
        s[:, ~self.item_ok_] = -2.0
        return s.astype(np.float32)

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        cols = self.seen_.indices[self.seen_.indptr[user_row] : self.seen_.indptr[user_row + 1]]
        if self.norms_[user_row] == 0 or not self.item_ok_[item_col]:
            return []
        contrib = self.items_[cols] @ self.items_[item_col] / (len(cols) * self.norms_[user_row])
        return explain_shares(cols, contrib, top)
