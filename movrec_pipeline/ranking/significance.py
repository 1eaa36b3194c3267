"""Uncertainty of offline metrics over users: bootstrap intervals and paired tests (scipy.stats; no Dagster)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

RESAMPLES = 2000


def bootstrap_ci(values: np.ndarray, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over users (NaNs dropped); (nan, nan) below two values."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) < 2 or np.all(values == values[0]):
        mean = float(values.mean()) if len(values) else float("nan")
        return (mean, mean) if len(values) >= 2 else (float("nan"), float("nan"))
    res = stats.bootstrap((values,), np.mean, confidence_level=level, n_resamples=RESAMPLES, method="percentile",
                          random_state=np.random.default_rng(seed), vectorized=True)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class Paired:
    """``a`` against ``b`` on the same users: mean difference, its relative size, interval and p-values."""

    mean_a: float
    mean_b: float
    diff: float
    relative: float  # diff / mean_b
    ci: tuple[float, float]  # bootstrap interval of the mean difference
    p_wilcoxon: float  # two-sided Wilcoxon signed-rank over users (zero differences dropped)
    p_bootstrap: float  # two-sided: twice the share of bootstrap means of the difference on the other side of 0


def paired(a: np.ndarray, b: np.ndarray, level: float = 0.95, seed: int = 0) -> Paired:
    """Paired comparison of two methods' per-user metric (same users, same order)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError("paired metrics must cover the same users")
    d = a - b
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(RESAMPLES, len(d)))].mean(axis=1) if len(d) else np.zeros(1)
    side = (means <= 0).mean() if d.mean() > 0 else (means >= 0).mean()
    nonzero = d[d != 0]
    p_w = float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) >= 10 else float("nan")
    mean_b = float(b.mean()) if len(b) else float("nan")
    return Paired(float(a.mean()), mean_b, float(d.mean()), float(d.mean() / mean_b) if mean_b else float("nan"),
                  bootstrap_ci(d, level, seed), p_w, float(min(1.0, 2 * side)))
