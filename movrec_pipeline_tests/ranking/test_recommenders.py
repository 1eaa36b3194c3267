"""Tests of the ranking package: top-k, metrics, the T80 split, recommenders, MMR (real MovieLens data)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from movrec_pipeline.ranking.base import Recommender
from movrec_pipeline.ranking.diversity import mmr_rerank
from movrec_pipeline.ranking.ease import EASERecommender
from movrec_pipeline.ranking.evaluation import (
    catalog_coverage,
    evaluate,
    hit_at_k,
    ndcg_at_k,
    recall_at_k,
    t80_split,
)
from movrec_pipeline.ranking.hybrid import HybridRecommender
from movrec_pipeline.ranking.interactions import InteractionData, recency_weights
from movrec_pipeline.ranking.mean_profile import MeanProfileRecommender
from movrec_pipeline.ranking.popularity import PopularityRecommender
from movrec_pipeline.ranking.svd import truncated_svd_item_vectors
from movrec_pipeline.ranking.topk import chunk_size_for, cosine_topk, topk_rows, topk_scores

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MOVREC_DATA_DIR") or ROOT.parent / "shared" / "data") / "ml-latest-small"
DEV_CACHE = Path("/tmp/movrec_dev_cache")  # used only when present; vectors are recomputed otherwise


def _bench():
    spec = importlib.util.spec_from_file_location(
        "evaluate_movielens", ROOT / "bench" / "evaluate_movielens.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def movielens():
    if not (DATA / "ratings.csv").exists():
        pytest.skip(f"MovieLens data not found at {DATA}")
    return _bench().load_movielens(DATA)


@pytest.fixture(scope="module")
def split(movielens):
    ratings, _ = movielens
    return t80_split(ratings)


@pytest.fixture(scope="module")
def text_vectors(movielens) -> np.ndarray:
    """MiniLM vectors of "title | year | genres" (about 30 s on 2 cores; the dev cache is used if present)."""
    _, movies = movielens
    bench = _bench()
    texts = [bench.movie_text(t, g) for t, g in zip(movies["title"], movies["genres"], strict=True)]
    return bench.text_vectors(texts, DEV_CACHE if DEV_CACHE.is_dir() else None)


# ---------------------------------------------------------------- top-k


def _brute_topk(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(s, order, axis=1)


def test_topk_equals_full_argsort():
    rng = np.random.default_rng(1)
    s = rng.standard_normal((57, 301)).astype(np.float32)
    idx, sc = topk_scores(lambda rows: s[rows], 57, 13)
    ref_idx, ref_sc = _brute_topk(s, 13)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(sc, ref_sc)
    assert idx.dtype == np.int32 and sc.dtype == np.float32
    assert np.all(np.diff(sc, axis=1) <= 0)


def test_topk_rows_ties_break_by_lower_index():
    idx, _ = topk_rows(np.array([[1.0, 2.0, 2.0, 0.0, 2.0]], np.float32), 3)
    np.testing.assert_array_equal(idx, [[1, 2, 4]])


def test_topk_excluded_never_returned_and_chunking_is_invariant():
    rng = np.random.default_rng(2)
    s = rng.random((40, 120)).astype(np.float32)
    exclude = sp.random(40, 120, density=0.3, random_state=3, format="csr")
    results = [topk_scores(lambda r: s[r], 40, 10, exclude=exclude, chunk_users=c) for c in (1, 7, 40, None)]
    idx = results[0][0]
    dense = exclude.toarray() != 0
    assert not dense[np.arange(40)[:, None], idx].any()
    for other in results[1:]:
        np.testing.assert_array_equal(other[0], idx)
        np.testing.assert_array_equal(other[1], results[0][1])
    masked = np.where(dense, -np.inf, s)
    np.testing.assert_array_equal(idx, _brute_topk(masked, 10)[0])


def test_topk_memory_bound_respected():
    n_items, max_bytes = 1000, 80_000
    assert chunk_size_for(n_items, max_bytes) == 10  # 10 rows * 1000 items * 4 bytes * 2 copies
    assert chunk_size_for(10**9, 1) == 1
    s = np.random.default_rng(4).random((95, n_items)).astype(np.float32)
    seen_rows = []

    def score(rows):
        seen_rows.append(len(rows))
        return s[rows]

    idx, _ = topk_scores(score, 95, 5, max_bytes=max_bytes)
    assert max(seen_rows) * n_items * 4 * 2 <= max_bytes
    np.testing.assert_array_equal(idx, _brute_topk(s, 5)[0])


def test_topk_k_larger_than_items_is_clamped():
    s = np.random.default_rng(5).random((3, 8)).astype(np.float32)
    idx, sc = topk_scores(lambda r: s[r], 3, 50)
    assert idx.shape == (3, 8) and sc.shape == (3, 8)
    np.testing.assert_array_equal(np.sort(idx, axis=1), np.tile(np.arange(8), (3, 1)))


def test_cosine_topk_exact_and_zero_query_has_no_nan():
    rng = np.random.default_rng(6)
    q = rng.standard_normal((6, 16)).astype(np.float32)
    q[2] = 0.0
    items = rng.standard_normal((50, 16)).astype(np.float32)
    items[7] = 0.0
    idx, sc = cosine_topk(q, items, 5, max_bytes=1000)
    assert not np.isnan(sc).any()
    assert np.all(np.isneginf(sc[2]))
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
    itn = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-30)
    ref = qn @ itn.T
    ref[:, 7] = -np.inf
    for u in (0, 1, 3, 4, 5):
        np.testing.assert_array_equal(idx[u], _brute_topk(ref[u : u + 1], 5)[0][0])
        np.testing.assert_allclose(sc[u], np.sort(ref[u])[::-1][:5], rtol=1e-5)
        assert 7 not in idx[u]


# ---------------------------------------------------------------- metrics


def test_metrics_on_hand_made_cases():
    assert ndcg_at_k(np.array([1, 2, 3]), np.array([2]), 10) == pytest.approx(1 / np.log2(3))
    # hit at rank 2 only; ideal DCG over min(3, k=3) positions
    assert ndcg_at_k(np.array([5, 1, 7, 2]), np.array([1, 2, 9]), 3) == pytest.approx(
        (1 / np.log2(3)) / (1 + 1 / np.log2(3) + 0.5)
    )
    assert ndcg_at_k(np.array([4, 5]), np.array([4, 5]), 10) == pytest.approx(1.0)
    assert ndcg_at_k(np.array([1]), np.array([], int), 10) == 0.0
    ranked = np.arange(30)
    relevant = np.r_[[0, 5, 19, 20, 25], np.arange(100, 120)]  # 25 relevant, 3 hits in top-20
    assert recall_at_k(ranked, relevant, 20) == pytest.approx(3 / 20)  # denominator min(25, 20)
    assert recall_at_k(ranked, np.array([3, 99]), 20) == pytest.approx(1 / 2)
    assert hit_at_k(ranked, np.array([9]), 10) == 1.0
    assert hit_at_k(ranked, np.array([10]), 10) == 0.0
    assert catalog_coverage(np.array([[1, 2, 9], [2, 3, 8]]), 10, 2) == pytest.approx(0.3)


def test_evaluate_on_tiny_data_matches_hand_computation():
    train = pd.DataFrame(
        {"user_id": [1, 1, 2, 2], "movie_id": [10, 20, 20, 30], "rating": 4.0, "rated_at": [1, 2, 3, 4]}
    )
    test = pd.DataFrame(
        {"user_id": [1, 2, 2], "movie_id": [30, 10, 40], "rating": 3.0, "rated_at": [5, 6, 7]}
    )
    res = evaluate(PopularityRecommender(), train, test, np.array([10, 20, 30, 40]), k_ndcg=1, k_recall=2)
    # popularity: 20 (2) > 10 = 30 (1, tie -> lower col) > 40 (0); user 1 ranks [30, 40], user 2 [10, 40]
    assert res["ndcg@1"] == pytest.approx(1.0)
    assert res["recall@2"] == pytest.approx(1.0)
    assert res["hr@1"] == pytest.approx(1.0)
    assert res["coverage@1"] == pytest.approx(0.5)
    assert res["cold_recall@2"] == pytest.approx(1.0)  # movie 40: cold, found by user 2 at rank 2
    assert res["users"] == 2 and res["cold_users"] == 1


# ---------------------------------------------------------------- T80 split


def test_t80_split_on_real_ratings(movielens, split):
    ratings, _ = movielens
    train, test = split
    assert len(train) + len(test) == len(ratings) == 100_836
    n = ratings.groupby("user_id").size()
    expected = np.maximum(np.floor(0.8 * n), 1).astype(int)
    pd.testing.assert_series_equal(train.groupby("user_id").size(), expected, check_names=False)
    assert set(train["user_id"]) == set(ratings["user_id"])  # no user missing from train
    key = ["rated_at", "movie_id"]
    last_train = train.sort_values(key).groupby("user_id")[key].last()
    first_test = test.sort_values(key).groupby("user_id")[key].first()
    lt, ft = last_train.loc[first_test.index], first_test
    assert (
        (lt["rated_at"] < ft["rated_at"])
        | ((lt["rated_at"] == ft["rated_at"]) & (lt["movie_id"] < ft["movie_id"]))
    ).all()


# ---------------------------------------------------------------- models


def _ratings_frame(rows: list[tuple[int, int, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "rated_at"])


def test_interaction_data_catalogue_duplicates_and_weights():
    frame = _ratings_frame(
        [(7, 3, 2.0, 10), (7, 1, 5.0, 11), (7, 3, 4.0, 12), (9, 1, 1.0, 5), (9, 99, 3.0, 6)]
    )
    data = InteractionData.from_ratings(frame, item_ids=np.array([1, 2, 3]), weighting="centered")
    np.testing.assert_array_equal(data.user_ids, [7, 9])
    np.testing.assert_array_equal(data.item_ids, [1, 2, 3])
    assert data.matrix.shape == (2, 3) and data.matrix.dtype == np.float32
    np.testing.assert_allclose(
        data.ratings.toarray(), [[5, 0, 4], [1, 0, 0]]
    )  # latest duplicate kept, 99 dropped
    np.testing.assert_allclose(data.matrix.toarray(), [[1.25, 0, 0.75], [1, 0, 0]])  # 1 + 0.5 (r - mean)
    np.testing.assert_allclose(data.item_counts(), [2, 0, 1])
    np.testing.assert_allclose(recency_weights(data, half_life=1.0, floor=0.0), [0.5, 1.0, 1.0])  # newest = 1
    binary = InteractionData.from_ratings(frame)
    np.testing.assert_array_equal(binary.item_ids, [1, 3, 99])
    assert set(np.unique(binary.matrix.data)) == {1.0}


def test_ease_equals_closed_form_on_tiny_matrix():
    rng = np.random.default_rng(7)
    x = (rng.random((12, 6)) < 0.5).astype(np.float64)
    x[0, :] = 1.0
    x[:, 0] = 1.0  # every user has a rating
    x[:, 4] = 0.0  # an item nobody rated
    rows = [(u, i, 4.0, u * 10 + i) for u, i in zip(*np.nonzero(x), strict=True)]
    data = InteractionData.from_ratings(_ratings_frame(rows), item_ids=np.arange(6))
    lam = 2.0
    model = EASERecommender(lambda_=lam, dtype=np.float64).fit(data)
    active = [0, 1, 2, 3, 5]
    xa = x[:, active]
    p = np.linalg.inv(xa.T @ xa + lam * np.eye(5))
    b = np.eye(5) - p / np.diag(p)[None, :]
    scores = model.score(np.arange(12))
    np.testing.assert_allclose(scores[:, active], xa @ b, rtol=1e-4, atol=1e-6)
    assert np.all(scores[:, 4] < scores[:, active].min(axis=1))  # unrated item ranks last
    assert isinstance(model, Recommender)


def _check_explain(model, data: InteractionData, user_row: int, item_col: int) -> None:
    shares = model.explain(user_row, item_col, top=3)
    assert 0 < len(shares) <= 3
    train_cols = set(data.seen()[user_row].indices)
    assert all(col in train_cols for col, _ in shares)
    total = sum(s for _, s in shares)
    assert 0 < total <= 1 + 1e-6 and all(s > 0 for _, s in shares)


def test_explain_points_at_training_items_on_tiny_data():
    rng = np.random.default_rng(8)
    rows = [
        (u, int(i), float(rng.integers(1, 6)), int(t))
        for u in range(30)
        for t, i in enumerate(rng.choice(25, size=8, replace=False))
    ]
    data = InteractionData.from_ratings(_ratings_frame(rows), item_ids=np.arange(30))
    text = rng.standard_normal((30, 8)).astype(np.float32)
    for model in (
        EASERecommender(lambda_=5.0),
        HybridRecommender(lambda_=5.0),
        MeanProfileRecommender("text"),
    ):
        model.fit(data, text)
        s = model.score(np.array([0]))[0]
        s[data.seen()[0].indices] = -np.inf
        _check_explain(model, data, 0, int(np.argmax(s)))
    # a cold item (26..29 have no ratings) is explained by the user's items too
    model = HybridRecommender(lambda_=5.0).fit(data, text)
    _check_explain(model, data, 0, int(26 + np.argmax(model.score(np.array([0]))[0, 26:])))
    assert PopularityRecommender().fit(data).explain(0, 1) == []


def _cold_data():
    rng = np.random.default_rng(9)
    rows = [
        (u, int(i), 4.0, int(t))
        for u in range(200)
        for t, i in enumerate(rng.choice(60, size=12, replace=False))
    ]
    data = InteractionData.from_ratings(_ratings_frame(rows), item_ids=np.arange(70))  # 60..69 cold
    text = rng.standard_normal((70, 16)).astype(np.float32)
    text[69] = 0.0  # cold and no text: never ranked from text
    return data, text


def test_hybrid_without_calibration_ranks_the_head_first_and_cold_items_only_fill_short_lists():
    data, text = _cold_data()
    model = HybridRecommender(lambda_=10.0).fit(data, text)
    assert model.calibration_ is None
    users = model.users_
    idx, _, _ = model.top_unseen(users, np.arange(200), 10)
    assert np.all((idx >= 0) & (idx < 60))  # warm only
    n_unseen_warm = 60 - np.diff(data.seen()[:, :60].tocsr().indptr)
    full, _, _ = model.top_unseen(users, np.arange(200), 70)
    for u in range(200):  # every unseen warm item, then the cold ones with text; the textless one never
        assert np.all(full[u, :n_unseen_warm[u]] < 60)
        assert set(full[u, n_unseen_warm[u]:n_unseen_warm[u] + 9]) == set(range(60, 69))
        assert 69 not in full[u]


def test_calibrated_merge_puts_a_cold_item_exactly_where_its_hit_probability_beats_the_warm_one():
    from movrec_pipeline.ranking.calibration import Calibration

    data, text = _cold_data()
    model = HybridRecommender(lambda_=10.0).fit(data, text)
    warm_only, _, _ = model.top_unseen(model.users_, np.arange(200), 10)
    model.calibration_ = Calibration(np.array([0.5, 0.4, 0.3, 0.2, 0.1]), np.array([0.35, 0.05, 0.0]))
    idx, p, _ = model.top_unseen(model.users_, np.arange(200), 10)
    np.testing.assert_array_equal(idx[:, :2], warm_only[:, :2])  # 0.5, 0.4 beat the best cold rank's 0.35
    assert np.all((idx[:, 2] >= 60) & (idx[:, 2] < 69))  # then the best cold title
    np.testing.assert_array_equal(idx[:, 3:6], warm_only[:, 2:5])  # 0.3, 0.2, 0.1 beat cold rank 2's 0.05
    np.testing.assert_allclose(p[0, :6], [0.5, 0.4, 0.35, 0.3, 0.2, 0.1])
    full = model.score_users(model.users_, np.arange(200))
    seen = data.seen().tocoo()
    full[seen.row, seen.col] = -np.inf
    want, _ = topk_scores(lambda rows: full[rows], 200, 10)
    np.testing.assert_array_equal(want, idx)  # the full score matrix ranks the same way


def test_calibration_learns_that_cold_titles_never_hit_and_keeps_them_out():
    data, text = _cold_data()
    model = HybridRecommender(lambda_=10.0).fit(data, text)
    validation = pd.DataFrame({"user_id": np.arange(200), "movie_id": np.arange(200) % 60, "rating": 4.0,
                               "rated_at": 10**6})
    cal = model.calibrate(data, validation[~data.seen()[np.arange(200), np.arange(200) % 60].A1.astype(bool)])
    assert cal is not None and cal.cold_hits == 0 and cal.cold[0] == 0.0 and cal.warm_hits > 0
    assert np.all(np.diff(cal.warm) <= 0)
    idx, _, _ = model.top_unseen(model.users_, np.arange(200), 20)
    assert np.all(idx < 60)


def test_svd_and_mean_profile_shapes(split):
    train, _ = split
    data = InteractionData.from_ratings(train.head(5000), item_ids=np.arange(1, 400))
    vec = truncated_svd_item_vectors(data, dims=16, seed=0)
    assert vec.shape == (399, 16) and vec.dtype == np.float32
    assert np.all(vec[data.item_counts() == 0] == 0)
    np.testing.assert_array_equal(vec, truncated_svd_item_vectors(data, dims=16, seed=0))
    s = MeanProfileRecommender("svd", dims=16).fit(data).score(np.arange(3))
    assert s.shape == (3, 399) and not np.isnan(s).any()


FANTASY_USERS = 10**7


@pytest.mark.slow  # embeds the 9,742 movie texts with the real model
def test_fantasy_behaviour(movielens, split, text_vectors):
    """A Fantasy lover gets more Fantasy than average; a Fantasy hater fewer.

    Users are added to the real T80 training data. The lover rated the 50 most rated Fantasy movies 5.0;
    the hater rated them 1.0 and the 50 most rated other movies 5.0; ``fan_too`` rated all 100 5.0 at the
    same times as the hater: only the ratings differ, so the rating weighting must rank Fantasy lower
    for the hater.
    """
    _, movies = movielens
    train, _ = split
    fantasy_ids = set(movies.loc[movies["genres"].str.contains("Fantasy"), "movie_id"])
    by_pop = train["movie_id"].value_counts().index
    fantasy = [m for m in by_pop if m in fantasy_ids][:50]
    others = [m for m in by_pop if m not in fantasy_ids][:50]
    t0 = int(train["rated_at"].max()) + 1
    mixed = np.empty(100, np.int64)
    mixed[0::2], mixed[1::2] = fantasy, others  # interleaved in time: recency favours neither
    lover = _ratings_frame([(FANTASY_USERS, m, 5.0, t0 + i) for i, m in enumerate(fantasy)])
    hater = _ratings_frame(
        [(FANTASY_USERS + 1, int(m), 1.0 if m in fantasy_ids else 5.0, t0 + i) for i, m in enumerate(mixed)]
    )
    fan_too = _ratings_frame([(FANTASY_USERS + 2, int(m), 5.0, t0 + i) for i, m in enumerate(mixed)])
    data = InteractionData.from_ratings(
        pd.concat([train, lover, hater, fan_too]), movies["movie_id"].to_numpy()
    )
    model = HybridRecommender().fit(data, text_vectors)
    idx, _ = topk_scores(model.score, data.n_users, 10, exclude=data.seen())
    is_fantasy = np.isin(data.item_ids, list(fantasy_ids))
    n_fantasy = is_fantasy[idx].sum(axis=1)
    average = n_fantasy[:-3].mean()
    lover_n, hater_n, _ = n_fantasy[-3:]
    assert lover_n > average
    assert hater_n < average
    # rating weighting: unseen Fantasy movies rank lower for the hater than for fan_too
    scores = model.score(np.array([data.n_users - 2, data.n_users - 1]))
    unseen = ~np.isin(np.arange(data.n_items), data.seen()[data.n_users - 1].indices)
    pct = [
        (s[unseen][:, None] > s[unseen & is_fantasy][None, :]).mean() for s in scores
    ]  # share ranked above
    assert pct[0] > pct[1] + 0.01


@pytest.mark.slow
def test_hybrid_t80_evaluation_meets_bar(movielens, split, text_vectors):
    _, movies = movielens
    train, test = split
    res = evaluate(HybridRecommender(), train, test, movies["movie_id"].to_numpy(), text_vectors)
    assert res["users"] == 610
    assert res["ndcg@10"] >= 0.135
    assert res["coverage@10"] >= 0.08
    assert res["recall@20"] >= 0.19  # without a calibration the head ranks first: no warm slot is given away


def test_mmr_rerank():
    vec = np.array([[1, 0], [1, 0.01], [0, 1], [0.7, 0.7]], np.float32)
    idx, scores = np.array([10, 11, 12, 13]), np.array([0.9, 0.8, 0.5, -np.inf])
    big = np.zeros((14, 2), np.float32)
    big[10:] = vec
    np.testing.assert_array_equal(mmr_rerank(idx, scores, big, 3, 1.0), [10, 11, 12])
    np.testing.assert_array_equal(mmr_rerank(idx, scores, big, 2, 0.5), [10, 12])  # near-duplicate 11 skipped
    assert len(mmr_rerank(idx, scores, big, 10, 0.3)) == 3  # -inf candidate dropped
    with pytest.raises(ValueError):
        mmr_rerank(idx, scores, big, 2, 1.5)
