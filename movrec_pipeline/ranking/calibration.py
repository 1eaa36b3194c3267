"""Merging ranked lists from different sources by calibrated hit probabilities (no band guesses).

A model that ranks two kinds of candidates on scales that cannot be compared (the collaborative head, and the
never-rated or rarely rated titles scored from their text) learns, on a validation split, how often the item at
rank ``r`` of each list is a hit: ``p_source(r)``, made non-increasing in ``r`` by isotonic regression. Lists are
then merged by those probabilities, so a cold title enters the top-k exactly where it is as likely to be watched
as the warm title it displaces, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Calibration", "hit_rates", "merge_ranked"]


def hit_rates(ranked: np.ndarray, relevant: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per rank, how often the item there is relevant: (hits, users with an item at that rank), over the rows of
    ``ranked`` ((users, depth) item columns, -1 = no item) and each row's ``relevant`` columns."""
    depth = ranked.shape[1]
    hits, seen = np.zeros(depth), np.zeros(depth)
    for row, rel in zip(ranked, relevant, strict=True):
        present = row >= 0
        seen += present
        hits += present & np.isin(row, rel)
    return hits, seen


def _non_increasing(rates: np.ndarray, weights: np.ndarray) -> np.ndarray:
    from sklearn.isotonic import IsotonicRegression

    if not (weights > 0).any():
        return np.zeros_like(rates)
    x = np.arange(len(rates), dtype=np.float64)
    ok = weights > 0
    fit = IsotonicRegression(increasing=False, out_of_bounds="clip").fit(x[ok], rates[ok], sample_weight=weights[ok])
    return fit.predict(x)


@dataclass(frozen=True)
class Calibration:
    """Hit probability by rank for the warm list and the cold list (both non-increasing), from validation."""

    warm: np.ndarray
    cold: np.ndarray
    warm_hits: int = 0
    cold_hits: int = 0

    @classmethod
    def fit(cls, warm_ranked: np.ndarray, cold_ranked: np.ndarray, relevant: list[np.ndarray]) -> Calibration:
        """From each validation user's warm and cold lists (same depth) and their validation items."""
        wh, wn = hit_rates(warm_ranked, relevant)
        ch, cn = hit_rates(cold_ranked, relevant)
        warm = _non_increasing(wh / np.maximum(wn, 1), wn)
        cold = _non_increasing(ch / np.maximum(cn, 1), cn)
        return cls(warm.astype(np.float64), cold.astype(np.float64), int(wh.sum()), int(ch.sum()))

    def warm_at(self, ranks: np.ndarray) -> np.ndarray:
        return self.warm[np.minimum(ranks, len(self.warm) - 1)]

    def cold_at(self, ranks: np.ndarray) -> np.ndarray:
        return self.cold[np.minimum(ranks, len(self.cold) - 1)]

    def cold_can_enter(self, k: int) -> bool:
        """Whether any cold title can reach a top-``k`` whose warm list is full (its best rank beats the k-th)."""
        return bool(self.cold[0] > self.warm_at(np.array([k - 1]))[0])

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"calibration_warm": self.warm, "calibration_cold": self.cold,
                "calibration_hits": np.array([self.warm_hits, self.cold_hits])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Calibration | None:
        if "calibration_warm" not in arrays:
            return None
        hits = arrays.get("calibration_hits", np.zeros(2))
        return cls(arrays["calibration_warm"], arrays["calibration_cold"], int(hits[0]), int(hits[1]))


def merge_ranked(warm_cols: np.ndarray, warm_keys: np.ndarray, cold_cols: np.ndarray, cold_keys: np.ndarray,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` best of two ranked lists by key (higher first; ties: warm first, then by rank).

    ``*_cols`` (n, a) / (n, b) item columns, ``*_keys`` the same shapes (-inf = no item). Returns the merged
    columns (-1 where fewer than ``k`` items exist) and keys.
    """
    n = warm_cols.shape[0]
    cols = np.hstack([warm_cols, cold_cols])
    keys = np.hstack([warm_keys, cold_keys]).astype(np.float64)
    source = np.hstack([np.zeros_like(warm_keys), np.ones_like(cold_keys)])
    rank = np.hstack([np.broadcast_to(np.arange(warm_cols.shape[1]), warm_cols.shape),
                      np.broadcast_to(np.arange(cold_cols.shape[1]), cold_cols.shape)])
    order = np.lexsort((rank, source, -keys), axis=1)[:, :k]
    out_cols = np.take_along_axis(cols, order, axis=1)
    out_keys = np.take_along_axis(keys, order, axis=1)
    out_cols = np.where(np.isfinite(out_keys), out_cols, -1)
    if out_cols.shape[1] < k:
        pad = k - out_cols.shape[1]
        out_cols = np.hstack([out_cols, np.full((n, pad), -1, out_cols.dtype)])
        out_keys = np.hstack([out_keys, np.full((n, pad), -np.inf)])
    return out_cols, out_keys
