"""Users x items interactions from ratings: sparse matrices, rating weights, recency weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

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


def head_of(counts: np.ndarray, head_items: int | None) -> np.ndarray:
    """Sorted columns of the rated items, only the ``head_items`` most-rated when given (ties: lower column)."""
    rated = np.flatnonzero(counts > 0)
    if head_items is not None and len(rated) > head_items:
        rated = np.sort(rated[np.argsort(-counts[rated], kind="stable")[:head_items]])
    return rated
