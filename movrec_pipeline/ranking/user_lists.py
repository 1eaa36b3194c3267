"""MovieLens recommendations for every user, with explanations, and similar-movie lists (no Dagster)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from movrec_pipeline.ranking.hybrid import HybridRecommender, UserInputs
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.ranking.topk import cosine_topk


def align_vectors(item_ids: np.ndarray, keys: list[str], matrix: np.ndarray, dims: int) -> np.ndarray:
    """Rows of ``matrix`` (keyed by ``keys``) in the order of ``item_ids``; zero rows where missing."""
    out = np.zeros((len(item_ids), dims), np.float32)
    pos = {int(k): i for i, k in enumerate(keys)}
    for row, item in enumerate(item_ids):
        j = pos.get(int(item))
        if j is not None:
            out[row] = matrix[j]
    return out


MIN_TEXT_COVERAGE = 0.5


def usable_text_vectors(aligned: np.ndarray) -> np.ndarray | None:
    """The aligned text vectors, or None when too few movies have one (e.g. a demo slice): a partial set
    would skew the content part of the hybrid instead of helping it."""
    covered = float((np.linalg.norm(aligned, axis=1) > 0).mean()) if len(aligned) else 0.0
    return aligned if covered >= MIN_TEXT_COVERAGE else None


def explanation_text(titles: list[str], shares: list[float]) -> str:
    if not titles:
        return "popular with similar users"
    named = [f"{t} ({s:.0%})" for t, s in zip(titles, shares, strict=True)]
    joined = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f"because you rated {joined}"


def user_recommendations(model: HybridRecommender, data: InteractionData, titles: dict[int, str],
                         k: int, users: UserInputs | None = None, block: int = 512,
                         threads: int | None = None, groups: np.ndarray | None = None) -> pd.DataFrame:
    """Top-k unseen movies for every user of ``users`` (default: the users the model was fitted on), each with
    the three rated movies that contribute most. Users are scored, ranked and explained in blocks (memory:
    one block's users x catalogue scores), blocks on ``threads`` threads (NumPy, BLAS and sparse products
    release the GIL). With ``groups`` (one label per user row, e.g. its bucket) blocks never mix groups, so a
    user's scores do not depend on which other groups a run scores (BLAS results can depend on a block's
    size in the last bit)."""
    users = users or model.users_
    n_users = users.query.shape[0]
    labels = np.zeros(n_users, np.int64) if groups is None else np.asarray(groups)
    blocks = [members[i:i + block] for g in np.unique(labels) for members in [np.flatnonzero(labels == g)]
              for i in range(0, len(members), block)]

    def one_block(rows: np.ndarray) -> list[tuple]:
        idx, top, scale = model.top_unseen(users, rows, k)
        explained = model.explain_users(users, rows, idx, top=3, scale=scale)
        out = []
        for u, picks, cols, values in zip(rows.tolist(), explained, idx, top, strict=True):
            for rank, (col, score, because) in enumerate(zip(cols, values, picks, strict=True), 1):
                if not np.isfinite(score):
                    continue
                movie_ids = [int(data.item_ids[c]) for c, _ in because]
                text = explanation_text([titles.get(m, str(m)) for m in movie_ids], [s for _, s in because])
                out.append((int(data.user_ids[u]), rank, int(data.item_ids[col]), float(score), movie_ids, text))
        return out

    with ThreadPoolExecutor(max(1, threads or min(os.cpu_count() or 1, 4)), thread_name_prefix="score") as pool:
        parts = list(pool.map(one_block, blocks))
    rows = sorted((row for part in parts for row in part), key=lambda r: (r[0], r[1]))
    return pd.DataFrame(rows, columns=["user_id", "rank", "movie_id", "score", "because_movie_ids", "explanation"])


def similar_items(keys: list[str], matrix: np.ndarray, k: int, source: str) -> pd.DataFrame:
    """For each item, its k nearest other items by cosine (exact, in memory)."""
    if len(keys) < 2:
        return pd.DataFrame(columns=["movie_id", "source", "rank", "similar_movie_id", "similarity"])
    self_mask = _identity_exclusion(len(keys))
    idx, sims = cosine_topk(matrix, matrix, k, exclude=self_mask)
    ids = np.array([int(x) for x in keys])
    n, kk = idx.shape
    frame = pd.DataFrame({
        "movie_id": np.repeat(ids, kk), "source": source, "rank": np.tile(np.arange(1, kk + 1), n),
        "similar_movie_id": ids[idx.ravel()], "similarity": sims.ravel(),
    })
    return frame[np.isfinite(frame["similarity"])]


def _identity_exclusion(n: int):
    import scipy.sparse as sp

    return sp.identity(n, dtype=np.float32, format="csr")
