"""Maximal Marginal Relevance (MMR) re-ranking of one user's candidate list."""

from __future__ import annotations

import numpy as np

from movrec_pipeline.ranking.topk import normalize_rows

__all__ = ["mmr_rerank"]


def mmr_rerank(
    candidate_idx: np.ndarray,
    candidate_scores: np.ndarray,
    item_vectors: np.ndarray,
    k: int,
    lambda_: float,
) -> np.ndarray:
    """Greedy MMR: pick ``argmax lambda * rel(c) - (1 - lambda) * max_sim(c, selected)``.

    ``candidate_idx`` are rows of ``item_vectors`` (e.g. a user's top-100), ``candidate_scores`` their
    relevance. Relevance is min-max scaled to [0, 1] over the finite candidates so ``lambda_`` does not
    depend on the model's score scale; similarity is cosine (items with a zero vector are similar to
    nothing). Candidates with non-finite scores are dropped. ``lambda_=1`` returns the top-k by score
    (ties by input order); ``lambda_=0`` maximises diversity only. Returns up to ``k`` item indices.
    """
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError("lambda_ must be in [0, 1]")
    idx = np.asarray(candidate_idx)
    scores = np.asarray(candidate_scores, dtype=np.float64)
    keep = np.isfinite(scores)
    idx, scores = idx[keep], scores[keep]
    k = min(k, len(idx))
    if k <= 0:
        return idx[:0]
    if lambda_ == 1.0:
        return idx[np.argsort(-scores, kind="stable")[:k]]
    span = scores.max() - scores.min()
    rel = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    vec = normalize_rows(np.asarray(item_vectors)[idx]).astype(np.float64)
    max_sim = np.full(len(idx), -np.inf)  # no item selected yet: the first pick is the most relevant
    chosen = np.zeros(len(idx), bool)
    picks = []
    for _ in range(k):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        value = lambda_ * rel - (1.0 - lambda_) * penalty
        value[chosen] = -np.inf
        best = int(np.argmax(value))
        picks.append(best)
        chosen[best] = True
        max_sim = np.maximum(max_sim, vec @ vec[best])
    return idx[np.array(picks)]
