"""Exact top-k over users x items score matrices, computed in user chunks with bounded memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

__all__ = ["chunk_size_for", "cosine_topk", "normalize_rows", "topk_rows", "topk_scores"]


def chunk_size_for(n_items: int, max_bytes: int, itemsize: int = 4, copies: int = 2) -> int:
    """Rows per chunk so that ``copies`` float arrays of shape (rows, n_items) fit in ``max_bytes``.

    ``copies=2`` accounts for the score chunk itself plus the temporary made by ``argpartition``.
    Always at least 1 row.
    """
    per_row = max(1, n_items) * itemsize * copies
    return max(1, int(max_bytes // per_row))


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of every row of a dense score matrix, sorted by score descending.

    Uses ``argpartition`` (O(n) per row) and then sorts only the k survivors. Ties are broken by the
    lower column index (stable sort on the selected candidates). ``k`` is clamped to the number of columns.
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k <= 0 or n_rows == 0:
        return np.zeros((n_rows, max(k, 0)), np.int32), np.zeros((n_rows, max(k, 0)), np.float32)
    if k < n_cols:
        # partition for the k largest directly: negating first would cost a full extra pass and copy
        part = np.argpartition(scores, n_cols - k, axis=1)[:, n_cols - k:]
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    part_scores = np.take_along_axis(scores, part, axis=1)
    # sort by (score desc, index asc): lexsort uses the last key as primary
    order = np.lexsort((part, -part_scores), axis=1)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int32)
    return idx, np.take_along_axis(part_scores, order, axis=1).astype(np.float32)


def topk_scores(
    score_chunk: Callable[[np.ndarray], np.ndarray],
    n_users: int,
    k: int,
    exclude: sp.csr_matrix | None = None,
    chunk_users: int | None = None,
    max_bytes: int = 256 * 2**20,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k items for users ``0..n_users-1``.

    ``score_chunk(rows)`` returns the (len(rows), I) score matrix of those user rows. Users are processed
    in chunks of ``chunk_users`` rows; when not given, the chunk size is computed (after scoring one user
    to learn ``I``) so that a chunk's float32 score matrix plus the ``argpartition`` temporary stays under
    ``max_bytes``. Nonzero entries (stored entries) of ``exclude`` (users x items) are set to ``-inf``.

    Returns ``(indices (n_users, k) int32, scores (n_users, k) float32)`` sorted by score descending.
    ``k`` larger than the number of items is clamped to ``I`` (the result then has ``I`` columns).
    Excluded or ``-inf`` items can appear only when a user has fewer than ``k`` finite scores; their score
    is then ``-inf`` so callers can drop them.
    """
    if n_users == 0:
        return np.zeros((0, max(k, 0)), np.int32), np.zeros((0, max(k, 0)), np.float32)
    first = np.asarray(score_chunk(np.arange(1)), dtype=np.float32)
    n_items = first.shape[1]
    if chunk_users is None:
        chunk_users = chunk_size_for(n_items, max_bytes)
    k = min(k, n_items)
    out_idx = np.empty((n_users, k), np.int32)
    out_scores = np.empty((n_users, k), np.float32)
    for start in range(0, n_users, chunk_users):
        rows = np.arange(start, min(start + chunk_users, n_users))
        block = first if (start == 0 and len(rows) == 1) else score_chunk(rows)
        block = np.asarray(block)
        if block.dtype != np.float32 or not block.flags.owndata or not block.flags.writeable:
            block = np.array(block, dtype=np.float32)  # never modify an array the scorer may still hold
        np.copyto(block, -np.inf, where=np.isnan(block))
        if exclude is not None:
            sub = exclude[rows].tocoo()
            block[sub.row, sub.col] = -np.inf
        out_idx[rows], out_scores[rows] = topk_rows(block, k)
    return out_idx, out_scores


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32); zero rows stay zero (never NaN)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def cosine_topk(
    queries: np.ndarray,
    items: np.ndarray,
    k: int,
    exclude: sp.csr_matrix | None = None,
    max_bytes: int = 256 * 2**20,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine top-k of every query row against every item row.

    Rows are L2-normalised first. A zero-norm query has no defined cosine: all its scores are ``-inf``
    (indices are then arbitrary and must be ignored). Zero-norm items score ``-inf`` for every query.
    Never returns NaN. ``k`` is clamped to the number of items.
    """
    q = normalize_rows(queries)
    it = normalize_rows(items)
    q_ok = np.linalg.norm(q, axis=1) > 0
    it_ok = np.linalg.norm(it, axis=1) > 0
    all_items_ok = bool(it_ok.all())
    it_t = np.ascontiguousarray(it.T)

    def score(rows: np.ndarray) -> np.ndarray:
        s = q[rows] @ it_t
        if not all_items_ok:
            s[:, ~it_ok] = -np.inf
        s[~q_ok[rows]] = -np.inf
        return s

    return topk_scores(score, len(q), k, exclude=exclude, max_bytes=max_bytes)
