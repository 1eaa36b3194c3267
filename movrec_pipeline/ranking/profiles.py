"""Customer profiles from rented films and "because you rented …" explanations (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from movrec_pipeline.ranking.topk import normalize_rows

NO_RENTALS = "no rentals"
NO_VECTORS = "no rented film has a vector for the active model"
ZERO_PROFILE = "rented films' vectors cancel out (zero profile)"


@dataclass(frozen=True)
class Profiles:
    customer_ids: np.ndarray  # (n,) customers that got a profile
    vectors: np.ndarray  # (n, d) float32, unit norm
    n_films: np.ndarray  # (n,) rentals that contributed
    gaps: dict[int, str]  # customer_id -> reason there is no profile


def mean_profiles(customer_ids: np.ndarray, rentals: pd.DataFrame, film_keys: list[str], film_vectors: np.ndarray,
                  half_life_days: float = 0.0) -> Profiles:
    """Mean of the (unit) vectors of each customer's rented films (the pgvector lab's profile), optionally
    recency-weighted.

    ``rentals`` has columns customer_id, film_id, rental_date. With ``half_life_days > 0`` a rental
    ``t`` days older than the customer's latest counts ``0.5 ** (t / half_life_days)``.
    """
    position = {int(k): i for i, k in enumerate(film_keys)}
    unit = normalize_rows(film_vectors)
    gaps: dict[int, str] = {}
    ids, vecs, counts = [], [], []
    grouped = {cid: g for cid, g in rentals.groupby("customer_id")} if len(rentals) else {}
    for cid in map(int, customer_ids):
        group = grouped.get(cid)
        if group is None or group.empty:
            gaps[cid] = NO_RENTALS
            continue
        rows = [position.get(int(f), -1) for f in group["film_id"]]
        mask = np.array([r >= 0 for r in rows])
        if not mask.any():
            gaps[cid] = NO_VECTORS
            continue
        weights = np.ones(int(mask.sum()), np.float32)
        if half_life_days > 0:
            dates = pd.to_datetime(group["rental_date"].to_numpy()[mask])
            age_days = (dates.max() - dates).total_seconds().to_numpy() / 86400.0
            weights = np.power(0.5, age_days / half_life_days).astype(np.float32)
        profile = weighted_profile(unit[np.array(rows)[mask]], weights)
        if profile is None:
            gaps[cid] = ZERO_PROFILE
            continue
        ids.append(cid)
        vecs.append(profile)
        counts.append(int(mask.sum()))
    dim = film_vectors.shape[1] if film_vectors.ndim == 2 else 0
    return Profiles(np.array(ids, dtype=np.int64), np.array(vecs, dtype=np.float32).reshape(-1, dim),
                    np.array(counts, dtype=np.int64), gaps)


def weighted_profile(unit_vectors: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """The unit-length weighted mean of (unit) item vectors; None when they cancel out (zero profile)."""
    mean = (unit_vectors * np.asarray(weights, np.float32)[:, None]).sum(axis=0) / float(np.sum(weights))
    norm = float(np.linalg.norm(mean))
    if not np.isfinite(norm) or norm < 1e-9:
        return None
    return (mean / norm).astype(np.float32)


def best_explanations(rented_vectors: np.ndarray, recommended_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each recommended item, the rented item most similar to it: (row index, cosine)."""
    if len(rented_vectors) == 0:
        n = len(recommended_vectors)
        return np.full(n, -1), np.zeros(n, np.float32)
    sims = normalize_rows(recommended_vectors) @ normalize_rows(rented_vectors).T
    best = sims.argmax(axis=1)
    return best, sims[np.arange(len(best)), best].astype(np.float32)
