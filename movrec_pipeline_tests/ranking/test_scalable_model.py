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
    from movrec_pipeline.ranking.calibration import Calibration

    model.calibration_ = Calibration(np.linspace(0.3, 0.01, 50), np.linspace(0.2, 0.0, 50))
    idx, _, _ = model.top_unseen(model.encode(data), np.arange(data.n_users), 20)
    assert np.isin(idx, model.cold_).any()  # items outside the head reach the lists where calibrated to


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
def test_top_lists_are_the_calibrated_merge_of_the_head_and_cold_rankings(data: InteractionData, text: np.ndarray,
                                                                          k: int) -> None:
    """``top_unseen`` equals merging brute-force head and cold rankings by the calibration's probabilities."""
    from movrec_pipeline.ranking.calibration import Calibration
    from movrec_pipeline.ranking.topk import topk_rows

    model = HybridRecommender(lambda_=20.0, head_items=100).fit_items(data, text)
    model.calibration_ = Calibration(np.linspace(0.3, 0.01, 50), np.linspace(0.273, 0.0, 50))
    users = model.encode(data)
    rows = np.arange(data.n_users)
    warm = model._head_scores(users, rows)[0]
    cold = model._cold_scores(users, rows)
    seen = users.seen.toarray().astype(bool)
    warm[seen[:, model.active_]] = -np.inf
    cold[seen[:, model.cold_]] = -np.inf
    w_idx, _ = topk_rows(warm, k)
    c_idx, _ = topk_rows(cold, k)
    idx, _, _ = model.top_unseen(users, rows, k)
    for u in rows.tolist():
        merged = sorted([(-model.calibration_.warm[r], 0, r, model.active_[w_idx[u, r]]) for r in range(k)]
                        + [(-model.calibration_.cold[r], 1, r, model.cold_[c_idx[u, r]]) for r in range(k)])
        assert idx[u].tolist() == [item for *_, item in merged[:k]]
    assert np.isin(idx, model.cold_).any() == (k > 5)  # cold rank 1 (0.273) comes after warm rank 5 (0.276)

@pytest.mark.parametrize("n", [1, 3, 5, 10])
def test_a_new_users_stored_list_is_the_list_the_evaluation_measures(data: InteractionData, text: np.ndarray,
                                                                   n: int) -> None:
    """A user with only their first n ratings: the stored path (``user_lists.user_recommendations``, what the
    pipeline writes) and the evaluation's path (``rank_unseen`` on the same ratings, folded in) give one list."""
    from movrec_pipeline.ranking import user_lists
    from movrec_pipeline.ranking.calibration import Calibration
    from movrec_pipeline.ranking.evaluation import first_ratings

    model = HybridRecommender(lambda_=20.0, head_items=100).fit_items(data, text)
    model.calibration_ = Calibration(np.linspace(0.3, 0.01, 50), np.linspace(0.29, 0.0, 50))
    newcomers = _random_ratings(9, 30, 300, 12)
    history, _ = first_ratings(newcomers, newcomers.iloc[:0], n)
    folded = InteractionData.from_ratings(history, item_ids=data.item_ids)
    stored = user_lists.user_recommendations(model, folded, {}, 10, users=model.encode(folded))
    measured = model.rank_unseen(folded, 10)
    for row, user in enumerate(folded.user_ids.tolist()):
        ranked = stored[stored["user_id"] == user].sort_values("rank")["movie_id"].tolist()
        assert ranked == [int(folded.item_ids[c]) for c in measured[row] if c >= 0]
    assert (stored.groupby("user_id").size() == 10).all() and stored["movie_id"].isin(model.cold_).any()
