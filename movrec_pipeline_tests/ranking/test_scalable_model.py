"""The pieces that let the recommender scale: blockwise Gram, the bounded head, stored item side, fold-in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from movrec_pipeline.ranking import gram
from movrec_pipeline.ranking.hybrid import HybridRecommender
from movrec_pipeline.ranking.interactions import InteractionData


def _random_ratings(seed: int, users: int, items: int, per_user: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1)
    rows = []
    for u in range(users):
        chosen = rng.choice(items, size=per_user, replace=False, p=popularity / popularity.sum())
        rows += [(u, int(i), float(rng.integers(1, 11)) / 2, 1_000_000 + t) for t, i in enumerate(chosen)]
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "rated_at"])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_blockwise_gram_equals_the_dense_product(monkeypatch, threads: int) -> None:
    monkeypatch.setattr(gram, "BLOCK_USERS", 37)  # many blocks, uneven last block
    rng = np.random.default_rng(threads)
    x = sp.random(1000, 120, density=0.05, format="csr", random_state=rng, dtype=np.float32)
    x.data[:] = 1.0
    got = gram.cooccurrence(x, threads=threads)
    assert got.dtype == np.float32 and got.shape == (120, 120)
    np.testing.assert_array_equal(got, (x.T @ x).toarray())


@pytest.fixture(scope="module")
def data() -> InteractionData:
    return InteractionData.from_ratings(_random_ratings(0, 400, 300, 25), item_ids=np.arange(320))  # 300.. unrated


@pytest.fixture(scope="module")
def text() -> np.ndarray:
    return np.random.default_rng(5).standard_normal((320, 12)).astype(np.float32)


def test_head_holds_the_most_rated_items_and_bounds_memory(data: InteractionData, text: np.ndarray) -> None:
    model = HybridRecommender(lambda_=20.0, head_items=100).fit_items(data, text)
    counts = data.item_counts()
    assert len(model.active_) == 100 and counts[model.active_].min() >= np.sort(counts)[::-1][99]
    arrays, _ = model.item_arrays()
    assert max(a.size for a in arrays.values()) <= max(100 * 100, 320 * 13)  # head², never items²
    assert set(model.cold_) == set(range(320)) - set(model.active_)  # every other item is scored from its text
    users = model.encode(data)
    idx = np.argsort(-model.score_users(users, np.arange(data.n_users)), axis=1)[:, :20]
    assert np.isin(idx, model.cold_).any()  # items outside the head do reach the lists


def test_stored_item_side_scores_bit_for_bit_like_the_fitted_one(data: InteractionData, text: np.ndarray) -> None:
    model = HybridRecommender(lambda_=20.0, head_items=150).fit_items(data, text)
    arrays, meta = model.item_arrays()
    reloaded = HybridRecommender.from_item_arrays({k: v.copy() for k, v in arrays.items()}, dict(meta))
    rows = np.arange(data.n_users)
    users = model.encode(data)
    np.testing.assert_array_equal(model.score_users(users, rows), reloaded.score_users(reloaded.encode(data), rows))


def test_fold_in_of_a_user_bucket_scores_like_all_users_at_once(data: InteractionData, text: np.ndarray) -> None:
    """What lets user buckets be scored by different runs: a user's scores read only that user's ratings."""
    ratings = _random_ratings(0, 400, 300, 25)
    model = HybridRecommender(lambda_=20.0, head_items=150).fit_items(data, text)
    everyone = model.score_users(model.encode(data), np.arange(data.n_users))
    bucket = ratings[ratings["user_id"] % 32 == 7]
    part = InteractionData.from_ratings(bucket, item_ids=np.arange(320))
    rows = np.searchsorted(data.user_ids, part.user_ids)
    np.testing.assert_allclose(model.score_users(model.encode(part), np.arange(part.n_users)), everyone[rows],
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k", [5, 10, 15])
def test_head_only_top_lists_equal_the_whole_catalogue_ranking(data: InteractionData, text: np.ndarray,
                                                               k: int) -> None:
    """``top_unseen`` scores only the head when k <= protect_top; the lists are those of the full ranking."""
    from movrec_pipeline.ranking.topk import topk_rows

    model = HybridRecommender(lambda_=20.0, head_items=100, protect_top=10, cold_slots=5).fit_items(data, text)
    users = model.encode(data)
    rows = np.arange(data.n_users)
    full = model.score_users(users, rows)
    seen = users.seen.tocoo()
    full[seen.row, seen.col] = -np.inf
    want_idx, want_top = topk_rows(full, k)
    idx, top, _ = model.top_unseen(users, rows, k)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(top, want_top)
    assert np.isin(idx, model.cold_).any() == (k > 10)  # the band (ranks 11..15) holds the text-scored items
