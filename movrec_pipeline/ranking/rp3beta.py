"""RP3beta (Paudel et al. 2016): three-step random walks user → item → user → item, popularity-penalised.

``W = P_iu^alpha P_ui^alpha``, each column divided by ``popularity ** beta``, only the ``neighbours`` largest
weights of each row kept (zero diagonal); a user's scores are ``x_u W``. W is built in blocks of item rows
(a sparse product, densified one block at a time and pruned), so memory is items x neighbours plus one block:
never items x items. One of the strongest simple baselines in Dacrema et al. (2019).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movrec_pipeline.ranking.base import explain_shares
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.ranking.topk import chunk_size_for

BLOCK_BYTES = 256 << 20


def _row_normalised(x: sp.csr_matrix, power: float) -> sp.csr_matrix:
    sums = np.asarray(x.sum(axis=1)).ravel()
    out = sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)) @ x
    out = out.tocsr()
    out.data **= power
    return out


class RP3betaRecommender:
    """Graph-based item-item model; ``alpha`` sharpens the walk, ``beta`` penalises popular destinations."""

    def __init__(self, alpha: float = 0.8, beta: float = 0.3, neighbours: int = 200, name: str = "rp3beta"):
        self.alpha, self.beta, self.neighbours, self.name = alpha, beta, neighbours, name

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> RP3betaRecommender:
        x = data.seen().astype(np.float32)
        p_ui = _row_normalised(x, self.alpha)
        p_iu = _row_normalised(x.T.tocsr(), self.alpha)
        pop = data.item_counts()
        penalty = np.divide(1.0, pop ** self.beta, out=np.zeros_like(pop), where=pop > 0).astype(np.float32)
        n = data.n_items
        k = min(self.neighbours, max(n - 1, 1))
        block = max(1, min(n, chunk_size_for(n, BLOCK_BYTES)))
        counts, indices, values = [], [], []
        for lo in range(0, n, block):
            hi = min(lo + block, n)
            dense = np.asarray((p_iu[lo:hi] @ p_ui).todense(), dtype=np.float32) * penalty[None, :]
            dense[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
            top = np.argpartition(-dense, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (hi - lo, 1))
            weights = np.take_along_axis(dense, top, axis=1)
            keep = weights > 0  # row-major: the kept entries stay grouped by row
            counts.append(keep.sum(axis=1))
            indices.append(top[keep].astype(np.int32))
            values.append(weights[keep])
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
        self.w_ = sp.csr_matrix((np.concatenate(values), np.concatenate(indices), indptr), shape=(n, n))
        self.w_.sort_indices()
        self.seen_ = x.tocsr()
        return self

    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((data.seen()[user_rows] @ self.w_).todense(), dtype=np.float32)

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.seen_[user_rows] @ self.w_).todense(), dtype=np.float32)

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        cols = self.seen_[user_row].indices
        return explain_shares(cols, np.asarray(self.w_[cols, item_col].todense()).ravel(), top)
