"""Top-k Netflix shows per customer profile, each with the rented film that explains it best (no Dagster)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from movrec_pipeline.ranking.diversity import mmr_rerank
from movrec_pipeline.ranking.profiles import best_explanations
from movrec_pipeline.ranking.topk import cosine_topk

COLUMNS = ["customer_id", "rank", "show_id", "score", "distance", "because_film_id", "because_title",
           "because_similarity"]


def recommend_shows(profiles, show_keys, show_vectors, film_keys, film_vectors, rentals: pd.DataFrame,
                    titles: dict, k: int, diversity_lambda: float = 1.0) -> pd.DataFrame:
    """Top-k shows per profile (MMR when diversity_lambda < 1) with the best-explaining rented film."""
    if not profiles or len(show_keys) == 0:
        return pd.DataFrame(columns=COLUMNS)
    cids = [int(c) for c, _ in profiles]
    matrix = np.vstack([p.to_numpy() for _, p in profiles]).astype(np.float32)
    pool = k if diversity_lambda >= 1.0 else min(len(show_keys), k * 5)
    idx, scores = cosine_topk(matrix, show_vectors, pool)
    film_pos = {int(k): i for i, k in enumerate(film_keys)}
    rented = rentals.groupby("customer_id")["film_id"].apply(lambda s: sorted(set(map(int, s)))).to_dict()
    rows = []
    for u, cid in enumerate(cids):
        pick, pick_scores = idx[u], scores[u]
        if diversity_lambda < 1.0:
            order = mmr_rerank(pick, pick_scores, show_vectors, k, diversity_lambda)
            pick, pick_scores = order, pick_scores[[list(idx[u]).index(i) for i in order]]
        pick, pick_scores = pick[: k], pick_scores[: k]
        films = [f for f in rented.get(cid, []) if f in film_pos]
        best, sims = best_explanations(film_vectors[[film_pos[f] for f in films]],
                                                     show_vectors[pick])
        for rank, (item, score, b, sim) in enumerate(zip(pick, pick_scores, best, sims, strict=True), 1):
            film = films[b] if b >= 0 else None
            rows.append((cid, rank, show_keys[item], float(score), float(1 - score), film,
                         titles.get(film), float(sim) if film else None))
    return pd.DataFrame(rows, columns=COLUMNS)
