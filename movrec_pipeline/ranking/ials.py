"""iALS (Hu, Koren & Volinsky 2008) through the ``implicit`` library; tuned as Rendle et al. (2021) advise."""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from movrec_pipeline.ranking.interactions import InteractionData


class IALSRecommender:
    """Implicit-feedback matrix factorisation: confidence ``1 + alpha`` on each interaction, ``regularization``
    on the factors; fold-in solves a new user's factors against the fixed item factors (no refit)."""

    def __init__(self, factors: int = 128, regularization: float = 0.1, alpha: float = 10.0, iterations: int = 15,
                 seed: int = 0, name: str = "ials"):
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed, self.name = iterations, seed, name

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> IALSRecommender:
        from implicit.cpu.als import AlternatingLeastSquares

        self.seen_ = data.seen().astype(np.float32).tocsr()
        with threadpool_limits(1, "blas"):  # implicit's own threads do the work (its advice: BLAS at 1 thread)
            self.model_ = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                                  alpha=self.alpha, iterations=self.iterations,
                                                  random_state=self.seed, num_threads=os.cpu_count() or 1)
            self.model_.fit(self.seen_, show_progress=False)
        self.items_ = np.asarray(self.model_.item_factors, dtype=np.float32)
        self.users_ = np.asarray(self.model_.user_factors, dtype=np.float32)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self.users_[user_rows] @ self.items_.T

    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(user_rows)
        seen = sp.csr_matrix(data.seen()[rows], dtype=np.float32)
        with threadpool_limits(1, "blas"):
            factors = self.model_.recalculate_user(np.arange(len(rows)), seen)
        return np.asarray(factors, dtype=np.float32).reshape(len(rows), -1) @ self.items_.T

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        return []  # latent factors: no exact per-item contributions
