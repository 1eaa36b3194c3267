"""What every recommender offers (fit, score, explain) and the shared explanation helper."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from movrec_pipeline.ranking.interactions import InteractionData


@runtime_checkable
class Recommender(Protocol):
    """What the pipeline needs from a recommender.

    ``fit`` takes text vectors aligned with ``data.item_ids`` (all-zero rows for items without text);
    ``score`` returns (len(user_rows), I) float32 scores, higher is better, seen items not excluded (the
    caller excludes them, e.g. ``topk_scores(..., exclude=data.seen())``); ``explain`` returns the
    training item columns contributing most to a score, with their share of the positive contributions.
    ``scores_for`` scores users the model was not fitted on, from their own interactions in ``data`` (same
    catalogue): fold-in, no refit.
    """

    name: str

    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> Recommender: ...

    def score(self, user_rows: np.ndarray) -> np.ndarray: ...

    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray: ...

    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]: ...


def explain_shares(cols: np.ndarray, contrib: np.ndarray, top: int) -> list[tuple[int, float]]:
    """Top positive contributions as (item col, share of the positive total); shares sum to <= 1."""
    pos = contrib > 0
    total = float(contrib[pos].sum())
    if total <= 0:
        return []
    order = np.argsort(-contrib, kind="stable")[: max(top, 0)]
    return [(int(cols[o]), float(contrib[o] / total)) for o in order if contrib[o] > 0]


def explain_shares_columns(cols: np.ndarray, contrib: np.ndarray, top: int) -> list[list[tuple[int, float]]]:
    """:func:`explain_shares` for every column of ``contrib`` (user's items x explained items) at once."""
    if contrib.shape[0] == 0:
        return [[] for _ in range(contrib.shape[1])]
    totals = np.where(contrib > 0, contrib, 0).sum(axis=0)
    order = np.argsort(-contrib, axis=0, kind="stable")[: max(top, 0)]
    values = np.take_along_axis(contrib, order, axis=0)
    picked = cols[order]
    out = []
    for j in range(contrib.shape[1]):
        total = float(totals[j])
        out.append([] if total <= 0 else [(int(picked[t, j]), float(values[t, j] / total))
                                          for t in range(order.shape[0]) if values[t, j] > 0])
    return out
