"""Recommenders over a users x items interaction matrix (pure numpy/scipy).

* :class:`PopularityRecommender` - training interaction counts.
* :class:`MeanProfileRecommender` - the seeds' method: mean of the user's item vectors, cosine to every item.
* :class:`EASERecommender` - EASE (Steck 2019), closed-form item-item ridge regression.
* :class:`HybridRecommender` - the project's method: EASE with recency- and rating-weighted user input and a
  popularity correction for warm items, plus a text-ridge mapping that scores cold items (no training
  interaction) from their text vectors; cold items get a reserved band right after the protected top-k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp

from movrec_pipeline.ranking.topk import normalize_rows

__all__ = [
    "EASERecommender",
    "HybridRecommender",
    "InteractionData",
    "MeanProfileRecommender",
    "PopularityRecommender",
    "Recommender",
    "ease_weights",
    "recency_weights",
    "truncated_svd_item_vectors",
    "weight_ratings",
]

WEIGHTINGS = ("binary", "rating", "centered")


def _to_seconds(col: pd.Series) -> np.ndarray:
    """Timestamps (datetime-like or numeric epoch seconds) as float64 epoch seconds."""
    if pd.api.types.is_numeric_dtype(col):
        return col.to_numpy(np.float64)
    ts = pd.to_datetime(col, utc=True)
    return ((ts - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(np.float64)


def weight_ratings(ratings: sp.csr_matrix, scheme: str, slope: float = 0.5, cap: float = 1.5) -> np.ndarray:
    """Per-entry weights (aligned with ``ratings.data``) for a weighting scheme.

    * ``binary``: 1 for every rating (implicit feedback: a rating means the user watched the movie).
    * ``rating``: the raw rating value.
    * ``centered``: ``clip(1 + slope * (rating - user mean), 0, cap)``: ratings at the user's mean count 1,
      ratings below it count less (``slope=0.5``: two stars below the mean count 0, never negative),
      ratings above count up to ``cap``. Lets a dislike weaken, not strengthen, similar recommendations.
    """
    if scheme not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {scheme!r}; expected one of {WEIGHTINGS}")
    r = ratings.data.astype(np.float64)
    if scheme == "binary":
        return np.ones_like(r, dtype=np.float32)
    if scheme == "rating":
        return r.astype(np.float32)
    counts = np.diff(ratings.indptr)
    sums = np.add.reduceat(r, ratings.indptr[:-1]) if r.size else np.zeros(len(counts))
    means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    dev = r - np.repeat(means, counts)
    return np.clip(1.0 + slope * dev, 0.0, cap).astype(np.float32)


@dataclass
class InteractionData:
    """Users x items interactions with aligned sparse matrices (all share one sparsity pattern).

    ``matrix`` holds the weights of ``weighting``; ``ratings`` the raw rating values; ``times`` the rating
    times in epoch seconds (float64). Within each row, column indices are sorted and the ``.data`` arrays
    of the three matrices are aligned entry by entry.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    matrix: sp.csr_matrix
    ratings: sp.csr_matrix | None = None
    times: sp.csr_matrix | None = None
    weighting: str = "binary"

    @classmethod
    def from_ratings(
        cls, ratings: pd.DataFrame, item_ids: np.ndarray | None = None, weighting: str = "binary"
    ) -> InteractionData:
        """Build from a frame with columns ``user_id, movie_id, rating, rated_at``.

        ``item_ids`` is the full catalogue (items without ratings get empty columns); ratings of movies
        outside it are dropped. Duplicate (user, movie) pairs keep the latest rating.
        """
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; expected one of {WEIGHTINGS}")
        frame = pd.DataFrame(
            {
                "u": ratings["user_id"].to_numpy(),
                "i": ratings["movie_id"].to_numpy(),
                "r": ratings["rating"].to_numpy(np.float64),
                "t": _to_seconds(ratings["rated_at"]),
            }
        )
        items = np.unique(frame["i"]) if item_ids is None else np.unique(np.asarray(item_ids))
        frame = frame[np.isin(frame["i"].to_numpy(), items)]
        frame = frame.sort_values(["u", "i", "t"]).drop_duplicates(["u", "i"], keep="last")
        users = np.unique(frame["u"])
        rows = np.searchsorted(users, frame["u"].to_numpy())
        cols = np.searchsorted(items, frame["i"].to_numpy())
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(users)))])
        shape = (len(users), len(items))

        def mk(values: np.ndarray, dtype: type) -> sp.csr_matrix:
            return sp.csr_matrix((values.astype(dtype), cols.astype(np.int32), indptr), shape=shape)

        rating_m = mk(frame["r"].to_numpy(), np.float32)
        weights = weight_ratings(rating_m, weighting)
        return cls(
            users, items, mk(weights, np.float32), rating_m, mk(frame["t"].to_numpy(), np.float64), weighting
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def seen(self) -> sp.csr_matrix:
        """Binary (U, I) matrix of the training interactions (the items to exclude from rankings)."""
        m = self.matrix.copy()
        m.data = np.ones_like(m.data)
        return m

    def weighted(self, scheme: str) -> sp.csr_matrix:
        """The interactions re-weighted with another scheme (needs ``ratings``)."""
        if scheme == self.weighting:
            return self.matrix
        if self.ratings is None:
            raise ValueError("re-weighting needs the raw ratings")
        m = self.ratings.copy()
        m.data = weight_ratings(self.ratings, scheme)
        return m

    def item_counts(self) -> np.ndarray:
        """Number of training interactions per item."""
        return np.diff(self.matrix.tocsc().indptr).astype(np.float64)


def recency_weights(data: InteractionData, half_life: float, floor: float) -> np.ndarray:
    """Per-entry weights ``floor + (1 - floor) * 0.5 ** ((rank - 1) / half_life)``, aligned with ``.data``.

    ``rank`` counts a user's interactions from the most recent (1) backwards, ties by movie id (the same
    order as the T80 split). Without ``times`` all weights are 1.
    """
    if data.times is None or half_life <= 0:
        return np.ones(data.matrix.nnz, np.float32)
    t = data.times
    counts = np.diff(t.indptr)
    rows = np.repeat(np.arange(data.n_users), counts)
    order = np.lexsort((-t.indices, -t.data, rows))  # per row: newest first, ties by higher id first
    rank = np.empty(t.nnz, np.float64)
    rank[order] = np.arange(t.nnz) - np.repeat(t.indptr[:-1], counts) + 1
    return (floor + (1.0 - floor) * 0.5 ** ((rank - 1.0) / half_life)).astype(np.float32)


@runtime_checkable
class Recommender(Protocol):
    """What the pipeline needs from a recommender.

    ``fit`` takes text vectors aligned with ``data.item_ids`` (all-zero rows for items without text);
    ``score`` returns (len(user_rows), I) float32 scores, higher is better, seen items not excluded (the
    caller excludes them, e.g. ``topk_scores(..., exclude=data.seen())``); ``explain`` returns the
    training item columns contributing most to a score, with their share of the positive contributions.
    """

    name: str

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> Recommender: ...

    def score(self, user_rows: np.ndarray) -> np.ndarray: ...

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]: ...


def _shares(cols: np.ndarray, contrib: np.ndarray, top: int) -> list[tuple[int, float]]:
    """Top positive contributions as (item col, share of the positive total); shares sum to <= 1."""
    pos = contrib > 0
    total = float(contrib[pos].sum())
    if total <= 0:
        return []
    order = np.argsort(-contrib, kind="stable")[: max(top, 0)]
    return [(int(cols[o]), float(contrib[o] / total)) for o in order if contrib[o] > 0]


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


class MeanProfileRecommender:
    """The seeds' method: user profile = mean of the user's item vectors; score = cosine to every item.

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

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        cols = self.seen_.indices[self.seen_.indptr[user_row] : self.seen_.indptr[user_row + 1]]
        if self.norms_[user_row] == 0 or not self.item_ok_[item_col]:
            return []
        contrib = self.items_[cols] @ self.items_[item_col] / (len(cols) * self.norms_[user_row])
        return _shares(cols, contrib, top)


class _LinearItemModel:
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


class EASERecommender(_LinearItemModel):
    """EASE: ``B = argmin ||X - XB||^2 + lambda ||B||^2, diag(B) = 0``; scores ``X_u B``.

    Fitted on items with at least one training interaction (others score the row minimum - 1).
    ``weighting`` selects the input weights (default binary/implicit).
    """

    def __init__(
        self,
        lambda_: float = 200.0,
        weighting: str = "binary",
        dtype: type = np.float32,
        name: str | None = None,
    ):
        self.lambda_, self.weighting, self.dtype = lambda_, weighting, dtype
        self.name = name or f"ease_l{lambda_:g}"

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> EASERecommender:
        x = data.weighted(self.weighting).tocsc()
        self.active_ = np.flatnonzero(np.diff(x.indptr) > 0)
        xa = x[:, self.active_].tocsr()
        self.w_ = ease_weights((xa.T @ xa).toarray().astype(self.dtype), self.lambda_)
        self.query_ = xa.astype(np.float32)
        self.n_items_ = data.n_items
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        warm = self._warm_scores(user_rows)
        out = np.empty((len(user_rows), self.n_items_), np.float32)
        out[:] = (warm.min(axis=1, initial=0.0) - 1.0)[:, None]
        out[:, self.active_] = warm
        return out

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        pos = np.searchsorted(self.active_, item_col)
        if pos >= len(self.active_) or self.active_[pos] != item_col:
            return []
        return _shares(*self._contrib(user_row, self.w_[:, pos]), top)


class HybridRecommender(_LinearItemModel):
    """The project's method: weighted-input EASE + text ridge models; cold items get a reserved band.

    * Collaborative part, warm items (>= 1 training interaction): ``q_u B D`` with ``B`` = EASE
      (``lambda_``) on the binary matrix, ``D = diag(popularity ** -pop_beta)`` (lifts the long tail:
      coverage), and user input ``q_u`` = recency weight (``recency_floor + (1 - recency_floor) *
      0.5 ** ((rank - 1) / recency_half_life)``, rank 1 = newest) x ``centered`` rating weight (ratings
      below the user's mean count less, see :func:`weight_ratings`).
    * Collaborative part, cold items (no training interaction): a ridge regression (``text_alpha``,
      intercept) from warm items' text vectors to the user's collaborative warm scores, evaluated at the
      cold item's text vector: ``q_u B D R t_c`` with ``R = T_w (T_w' T_w + alpha I)^-1``.
    * Content part, warm items: ``f_u * qbar_u R t_j``, a per-user ridge from text to the user's own
      (rating-weighted, normalised to sum 1) training items, scaled per user so that its spread over the
      warm items is ``content_weight`` times that of the collaborative part (``f_u``, a per-user
      constant: scores stay linear in the training items). It follows long-term taste (genres,
      franchises) that the recency-weighted collaborative part misses. (Adding it to cold items made
      their ranking worse on the validation split.)

    Everything is linear in the user's training items, so :meth:`explain` is exact. Cold items have a
    much lower hit rate than warm ones (about 1 % vs 10 % per slot on T80), so the ``protect_top`` best
    warm items are never displaced: the ``cold_slots`` best cold items are placed right after them
    (ranks ``protect_top + 1 ..``, scores between the k-th and (k+1)-th warm score); other cold items keep
    their score, capped below that band. ``cold_slots=0`` leaves only that calibrated blend. Without text
    vectors the model is the collaborative warm part only. Items with neither ratings nor text rank last.
    """

    def __init__(
        self,
        lambda_: float = 200.0,
        recency_half_life: float = 3.0,
        recency_floor: float = 0.1,
        rating_weighting: str = "centered",
        pop_beta: float = 0.2,
        text_alpha: float = 10.0,
        content_weight: float = 0.3,
        cold_slots: int = 10,
        protect_top: int = 10,
        name: str = "hybrid",
    ):
        self.lambda_, self.recency_half_life, self.recency_floor = lambda_, recency_half_life, recency_floor
        self.rating_weighting, self.pop_beta, self.text_alpha = rating_weighting, pop_beta, text_alpha
        self.content_weight, self.cold_slots, self.protect_top = content_weight, cold_slots, protect_top
        self.name = name

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> HybridRecommender:
        self.n_items_ = data.n_items
        counts = data.item_counts()
        self.active_ = np.flatnonzero(counts > 0)
        binary = data.seen().tocsc()[:, self.active_].tocsr()
        b = ease_weights((binary.T @ binary).toarray().astype(np.float32), self.lambda_)
        b /= np.maximum(counts[self.active_], 1.0).astype(np.float32)[None, :] ** self.pop_beta
        self.w_ = b
        rating_w = data.weighted(self.rating_weighting) if data.ratings is not None else data.matrix
        rating_w = rating_w.data.astype(np.float32)  # aligned with data.matrix.data
        counts_u = np.diff(data.matrix.indptr)
        sums = np.add.reduceat(rating_w, data.matrix.indptr[:-1]) if rating_w.size else np.zeros(0)
        sums = np.repeat(np.where(sums > 0, sums, 1.0), counts_u) if rating_w.size else sums
        # slice the entry positions (never zero, never dropped) so all user inputs stay aligned
        pos = data.matrix.copy()
        pos.data = np.arange(1, pos.nnz + 1, dtype=np.float64)
        pos = pos.tocsc()[:, self.active_].tocsr()
        take = pos.data.astype(np.int64) - 1
        recency = recency_weights(data, self.recency_half_life, self.recency_floor)
        shape = (data.n_users, len(self.active_))
        self.query_ = sp.csr_matrix(((rating_w * recency)[take], pos.indices, pos.indptr), shape=shape)
        self.content_q_ = sp.csr_matrix(
            ((rating_w / sums)[take].astype(np.float32), pos.indices, pos.indptr), shape=shape
        )
        self.seen_ = data.seen()
        self.cold_ = np.zeros(0, np.int64)
        self.text_ = None
        if item_text_vectors is not None:
            text = normalize_rows(item_text_vectors)
            has_text = np.linalg.norm(text, axis=1) > 0
            self.text_ = np.hstack([text, np.ones((len(text), 1), np.float32)])  # intercept column
            self.cold_ = np.flatnonzero((counts == 0) & has_text)
            warm_t = self.text_[self.active_].astype(np.float64)
            gram = warm_t.T @ warm_t
            gram[np.diag_indices_from(gram)] += self.text_alpha
            self.ridge_ = np.linalg.solve(gram, warm_t.T).T.astype(np.float32)  # R: (A, d+1)
            self.w_cold_ = self.w_ @ self.ridge_  # (A, d+1): warm scores -> ridge coefficients
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        user_rows = np.asarray(user_rows)
        n = len(user_rows)
        warm = self._warm_scores(user_rows)
        if self.text_ is not None:
            taste = self._taste(user_rows)
            warm += self._content_scale(warm, taste)[:, None] * taste
        floor = warm.min(axis=1, initial=0.0) - 1.0
        out = np.empty((n, self.n_items_), np.float32)
        out[:] = floor[:, None]
        out[:, self.active_] = warm
        if len(self.cold_) == 0:
            return out
        cold = np.asarray(self.query_[user_rows] @ self.w_cold_) @ self.text_[self.cold_].T
        # protected top-k boundary over unseen warm items
        masked = warm.copy()
        seen = self.seen_[user_rows].tocsc()[:, self.active_].tocoo()
        masked[seen.row, seen.col] = -np.inf
        k = min(self.protect_top, masked.shape[1] - 1)
        if k < 1:
            out[:, self.cold_] = np.minimum(cold, floor[:, None] + 0.5)
            return out
        part = -np.partition(-masked, (k - 1, k), axis=1)
        hi, lo = part[:, k - 1], part[:, k]  # k-th and (k+1)-th best unseen warm scores
        hi = np.where(np.isfinite(hi), hi, floor + 0.75)
        lo = np.where(np.isfinite(lo), lo, hi - 0.25)
        cap = np.nextafter(lo, np.float32(-np.inf))
        out[:, self.cold_] = np.minimum(np.maximum(cold, (floor + 0.5)[:, None]), cap[:, None])
        m = min(self.cold_slots, len(self.cold_))
        if m > 0:
            best = np.argpartition(-cold, m - 1, axis=1)[:, :m]
            order = np.argsort(-np.take_along_axis(cold, best, axis=1), axis=1, kind="stable")
            best = np.take_along_axis(best, order, axis=1)
            frac = (m - np.arange(m, dtype=np.float32)) / (m + 1)  # strictly inside (lo, hi)
            band = lo[:, None] + (hi - lo)[:, None] * frac[None, :]
            out[np.arange(n)[:, None], self.cold_[best]] = band
        return out

    def _taste(self, user_rows: np.ndarray) -> np.ndarray:
        """Unscaled content scores (n, A) of the warm items."""
        return np.asarray(self.content_q_[user_rows] @ self.ridge_) @ self.text_[self.active_].T

    def _content_scale(self, collab: np.ndarray, taste: np.ndarray) -> np.ndarray:
        """Per-user factor: ``content_weight * std(collaborative) / std(content)`` over the warm items."""
        spread = taste.std(axis=1)
        return np.where(spread > 0, self.content_weight * collab.std(axis=1) / np.maximum(spread, 1e-30), 0.0)

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        q = self.query_[user_row]
        cols = self.active_[q.indices]
        pos = np.searchsorted(self.active_, item_col)
        if pos < len(self.active_) and self.active_[pos] == item_col:
            contrib = q.data * self.w_[q.indices, pos]
            if self.text_ is not None:  # content part (content_q_ shares query_'s pattern)
                rows = np.array([user_row])
                scale = self._content_scale(self._warm_scores(rows), self._taste(rows))[0]
                qbar = self.content_q_[user_row].data
                contrib = contrib + scale * qbar * (self.ridge_[q.indices] @ self.text_[item_col])
        elif self.text_ is not None and item_col in set(self.cold_.tolist()):
            contrib = q.data * (self.w_cold_[q.indices] @ self.text_[item_col])
        else:
            return []
        return _shares(cols, contrib, top)
