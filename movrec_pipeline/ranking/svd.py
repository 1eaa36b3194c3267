"""Item vectors from a truncated SVD of the rating matrix (as the vector-database course did)."""

from __future__ import annotations

import numpy as np

from movrec_pipeline.ranking.interactions import InteractionData


def truncated_svd_item_vectors(data: InteractionData, dims: int = 64, seed: int = 0) -> np.ndarray:
    """(I, dims) float32 item vectors ``V * s`` from a truncated SVD of the rating matrix.

    Uses raw ratings when available (else ``data.matrix``); randomized SVD with a fixed seed.
    Items without ratings get all-zero rows. ``dims`` is clamped to ``min(U, I) - 1``.
    """
    from sklearn.utils.extmath import randomized_svd

    m = (data.ratings if data.ratings is not None else data.matrix).astype(np.float64)
    dims = max(1, min(dims, min(m.shape) - 1))
    _, s, vt = randomized_svd(m, dims, random_state=seed)
    vec = (vt.T * s).astype(np.float32)
    vec[data.item_counts() == 0] = 0.0
    return vec
