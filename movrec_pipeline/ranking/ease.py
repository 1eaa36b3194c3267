"""EASE (Steck 2019): closed-form item-item ridge regression on the active items."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from movrec_pipeline.ranking.base import explain_shares
from movrec_pipeline.ranking.gram import cooccurrence
from movrec_pipeline.ranking.interactions import InteractionData, head_of


def ease_weights(gram: np.ndarray, lambda_: float) -> np.ndarray:
    """EASE item-item matrix ``B = I - P diag(1/diag(P))`` (zero diagonal), ``P = (G + lambda I)^-1``.

    Uses a Cholesky factorisation and inverse (LAPACK potrf/potri) in the dtype of ``gram``; ``gram`` is
    overwritten.
    """
    gram[np.diag_indices_from(gram)] += lambda_
    potrf, potri = sla.get_lapack_funcs(("potrf", "potri"), (gram,))
    chol, info = potrf(gram, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix not positive definite (potrf info={info})")
    inv, info = potri(chol, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed (info={info})")
    _symmetrize_from_upper(inv)
    p = np.ascontiguousarray(inv.T)  # symmetric: a transposed view of LAPACK's Fortran array is C-ordered
    diag = np.diag(p).copy()
    p /= -diag[None, :]
    np.fill_diagonal(p, 0.0)
    return p


def _symmetrize_from_upper(a: np.ndarray, block: int = 1024) -> None:
    """Copy the upper triangle of square ``a`` onto its lower triangle, in place, block by block."""
    n = a.shape[0]
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        diag = a[lo:hi, lo:hi]
        il = np.tril_indices(hi - lo, -1)
        diag[il] = diag.T[il]
        if hi < n:
            a[hi:, lo:hi] = a[lo:hi, hi:].T


class LinearItemModel:
    """Shared scoring for models of the form ``scores = Q @ W`` on the active (warm) items."""

    query_: sp.csr_matrix  # (U, A) user input on active items
    active_: np.ndarray  # (A,) catalogue cols of active items
    w_: np.ndarray  # (A, A) item-item weights
    n_items_: int

    def _warm_scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.query_[user_rows] @ self.w_, dtype=np.float32)

    def _contrib(self, user_row: int, weights_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self.query_[user_row]
        return self.active_[q.indices], q.data * weights_col[q.indices]


class EASERecommender(LinearItemModel):
    """EASE: ``B = argmin ||X - XB||^2 + lambda ||B||^2, diag(B) = 0``; scores ``X_u B``.

    Fitted on items with at least one training interaction (others score the row minimum - 1); with
    ``head_items``, on the most-rated of them only (a dense head x head model instead of items x items).
    ``weighting`` selects the input weights (default binary/implicit).
    """

    def __init__(
        self,
        lambda_: float = 200.0,
        weighting: str = "binary",
        dtype: type = np.float32,
        name: str | None = None,
        head_items: int | None = None,
    ):
        self.lambda_, self.weighting, self.dtype, self.head_items = lambda_, weighting, dtype, head_items
        self.name = name or f"ease_l{lambda_:g}"

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> EASERecommender:
        x = data.weighted(self.weighting).tocsc()
        counts = np.diff(x.indptr)
        self.active_ = head_of(counts, self.head_items)  # the most-rated only: bounded memory
        xa = x[:, self.active_].tocsr()
        self.w_ = ease_weights(cooccurrence(xa).astype(self.dtype, copy=False), self.lambda_)
        self.query_ = xa.astype(np.float32)
        self.n_items_ = data.n_items
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        warm = self._warm_scores(user_rows)
        out = np.empty((len(user_rows), self.n_items_), np.float32)
        out[:] = (warm.min(axis=1, initial=0.0) - 1.0)[:, None]
        out[:, self.active_] = warm
        return out

    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray:
        query = data.weighted(self.weighting)[user_rows].tocsc()[:, self.active_].tocsr().astype(np.float32)
        warm = np.asarray(query @ self.w_, dtype=np.float32)
        out = np.empty((len(user_rows), self.n_items_), np.float32)
        out[:] = (warm.min(axis=1, initial=0.0) - 1.0)[:, None]
        out[:, self.active_] = warm
        return out

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        pos = np.searchsorted(self.active_, item_col)
        if pos >= len(self.active_) or self.active_[pos] != item_col:
            return []
        return explain_shares(*self._contrib(user_row, self.w_[:, pos]), top)
