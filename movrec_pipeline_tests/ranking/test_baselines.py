"""The baselines and the evaluation machinery: RP3beta, recent popularity, iALS, k-fold users, new users and
titles, intervals, paired tests, and the metrics checked against ranx on real rankings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movrec_pipeline.ranking import baselines
from movrec_pipeline.ranking.evaluation import (
    first_ratings,
    hit_at_k,
    kfold_users,
    leave_items_out,
    measure,
    measure_rankings,
    ndcg_at_k,
    recall_at_k,
    t80_split,
    validation_split,
)
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.ranking.popularity import PopularityRecommender, RecentPopularityRecommender
from movrec_pipeline.ranking.rp3beta import RP3betaRecommender
from movrec_pipeline.ranking.significance import bootstrap_ci, paired
from movrec_pipeline.ranking.topk import topk_rows
from movrec_pipeline_tests.ranking.test_recommenders import DATA


def _frame(rows: list[tuple[int, int, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "rated_at"])


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    if not (DATA / "ratings.csv").exists():
        pytest.skip(f"MovieLens data not found at {DATA}")
    return pd.read_csv(DATA / "ratings.csv").rename(columns={"userId": "user_id", "movieId": "movie_id",
                                                             "timestamp": "rated_at"})


def test_rp3beta_equals_its_formula_without_pruning() -> None:
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 4.0, t) for u in range(40) for t, i in enumerate(rng.choice(25, size=6, replace=False))]
    data = InteractionData.from_ratings(_frame(rows), item_ids=np.arange(25))
    model = RP3betaRecommender(alpha=0.7, beta=0.4, neighbours=1000).fit(data)
    x = data.seen().toarray()
    p_ui = (x / x.sum(1, keepdims=True)) ** 0.7
    p_iu = (x.T / np.maximum(x.T.sum(1, keepdims=True), 1)) ** 0.7
    w = (p_iu @ p_ui) / np.where(x.sum(0) > 0, x.sum(0) ** 0.4, np.inf)[None, :]
    np.fill_diagonal(w, 0)
    np.testing.assert_allclose(model.w_.toarray(), w, rtol=1e-5, atol=1e-7)
    pruned = RP3betaRecommender(alpha=0.7, beta=0.4, neighbours=3).fit(data)
    assert np.diff(pruned.w_.indptr).max() <= 3
    np.testing.assert_allclose(model.scores_for(data, np.arange(5)), model.score(np.arange(5)), rtol=1e-6)


@pytest.mark.parametrize("model", [RP3betaRecommender(alpha=0.7, beta=0.4, neighbours=5),
                                   RP3betaRecommender(alpha=0.7, beta=0.4, neighbours=5, head_items=12),
                                   PopularityRecommender(), RecentPopularityRecommender(days=3)],
                         ids=["rp3beta", "rp3beta_head", "popularity", "recent_popularity"])
def test_rank_unseen_is_the_top_k_of_the_full_scores(model) -> None:
    """The fast ranking (head only, or one shared order) is an exact top-k of every item's score, seen items
    excluded, for the fitted users and for users folded in; heavy users' lists end in -1 when nothing is left."""
    rng = np.random.default_rng(1)
    rows = [(u, int(i), 4.0, t * 86_400) for u in range(30)
            for t, i in enumerate(rng.choice(30, size=int(rng.integers(1, 29)), replace=False))]
    data = InteractionData.from_ratings(_frame(rows), item_ids=np.arange(30))
    model.fit(data)
    other = InteractionData.from_ratings(_frame([(u, i, 4.0, 0) for u, i in [(1, 3), (1, 4), (2, 5)]]),
                                         item_ids=np.arange(30))
    for users, score in ((None, model.score), (other, lambda r: model.scores_for(other, r))):
        seen = (data if users is None else users).seen()
        full = score(np.arange(seen.shape[0]))
        full[seen.toarray() > 0] = -np.inf
        if isinstance(model, RP3betaRecommender):
            outside = np.setdiff1d(np.arange(30), model.active_)
            full[:, outside] = -np.inf  # the head model never ranks an item it does not hold
        _, top = topk_rows(full, 10)
        ranked = model.rank_unseen(users, 10)
        np.testing.assert_array_equal(ranked == -1, ~np.isfinite(top))  # as long as the lists that exist
        got = np.take_along_axis(full, np.maximum(ranked, 0), axis=1)
        np.testing.assert_allclose(np.where(ranked >= 0, got, -np.inf), top, rtol=1e-6)  # the same scores (ties
        # may pick different items, as topk_rows among equal scores)


def test_recent_popularity_counts_the_last_days_of_the_training_window() -> None:
    day = 86_400
    rows = [(u, 1, 4.0, 100 * day) for u in range(5)]  # old favourite
    rows += [(u, 2, 4.0, 200 * day) for u in range(2)] + [(9, 3, 4.0, 199 * day)]  # recent
    data = InteractionData.from_ratings(_frame(rows), item_ids=np.arange(1, 5))
    scores = RecentPopularityRecommender(days=30).fit(data).score(np.arange(1))[0]
    assert list(np.argsort(-scores, kind="stable")) == [1, 2, 0, 3]  # movie 2, 3, then 1 (all-time tie-break)


def test_kfold_holds_out_every_user_once_and_splits_their_history_by_time(real: pd.DataFrame) -> None:
    folds = kfold_users(real, 5)
    held = [set(known["user_id"]) for _, known, _ in folds]
    assert sorted(u for users in held for u in users) == sorted(real["user_id"].unique())  # each user once
    for (train, known, test), users in zip(folds, held, strict=True):
        assert users == set(test["user_id"]) and not users & set(train["user_id"])
        assert len(train) + len(known) + len(test) == len(real)
        last = known.groupby("user_id")["rated_at"].max()
        first = test.groupby("user_id")["rated_at"].min()
        assert (last <= first.loc[last.index]).all()  # history before (or at) the test, per user
    assert kfold_users(real, 5)[0][1].equals(folds[0][1])  # fixed seed
    fit, valid = validation_split(folds[0][0])
    assert len(valid) / len(folds[0][0]) == pytest.approx(0.1, abs=0.02)
    assert set(valid["user_id"]) <= set(fit["user_id"])


def test_a_new_user_knows_only_their_first_ratings(real: pd.DataFrame) -> None:
    _, known, test = kfold_users(real, 5)[0]
    history, rest = first_ratings(known, test, 3)
    assert (history.groupby("user_id").size() == 3).all()
    assert len(history) + len(rest) == len(known) + len(test)
    assert (history.groupby("user_id")["rated_at"].max() <= rest.groupby("user_id")["rated_at"].min()).all()


def test_leave_items_out_removes_every_rating_of_a_tenth_of_the_movies(real: pd.DataFrame) -> None:
    train, _ = t80_split(real)
    kept, held = leave_items_out(train, np.unique(real["movie_id"]))
    assert len(held) == round(0.1 * train["movie_id"].nunique()) and not kept["movie_id"].isin(held).any()
    assert len(kept) + train["movie_id"].isin(held).sum() == len(train)


@pytest.mark.parametrize("name", [pytest.param("ease", marks=pytest.mark.slow), "rp3beta", "ials", "mean_profile_svd",
                                  "recent_popularity"])
def test_fold_in_scores_users_the_model_never_saw(real: pd.DataFrame, name: str) -> None:
    """A held-out fold on real data: every baseline scores users from their history and beats random by far."""
    train, history, test = kfold_users(real, 5)[0]
    items = np.unique(real["movie_id"])
    result = measure(baselines.make(name), train, test, items, history=history).summary()
    assert result["users"] == history["user_id"].nunique()
    assert result["hr@10"] > 0.2  # random lists would hit about 1 %


def test_bootstrap_interval_and_paired_tests() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(500)
    lo, hi = bootstrap_ci(a)
    assert lo < a.mean() < hi and hi - lo < 0.06
    better = paired(a + 0.05 + rng.normal(0, 0.02, 500), a)
    assert better.diff > 0 and better.p_wilcoxon < 1e-6 and better.p_bootstrap < 0.01 and better.ci[0] > 0
    same = paired(a, a + rng.normal(0, 1e-3, 500) * 0)
    assert same.diff == 0 and same.p_bootstrap == 1.0


@pytest.mark.slow  # numba compiles ranx's metrics: 15-30 s
def test_metrics_equal_ranx_on_real_rankings(real: pd.DataFrame) -> None:
    ranx = pytest.importorskip("ranx")
    train, test = t80_split(real)
    items = np.unique(real["movie_id"])
    result = measure(baselines.make("ease"), train, test, items)
    data = InteractionData.from_ratings(train, item_ids=items)
    qrels, run = {}, {}
    for row, user in zip(result.top, result.user_ids, strict=True):
        q = str(user)
        qrels[q] = dict.fromkeys(map(str, test.loc[test["user_id"] == user, "movie_id"]), 1)
        run[q] = {str(data.item_ids[c]): float(len(row) - r) for r, c in enumerate(row)}
    ranked = ranx.Run(run)
    metrics = ["ndcg@10", "hit_rate@10", "hits@20"]
    ranx.evaluate(ranx.Qrels(qrels), ranked, metrics)  # keeps every query's score in ranked.scores
    per_query = {m: np.array([ranked.scores[m][str(u)] for u in result.user_ids]) for m in metrics}
    relevant = np.array([len(qrels[str(u)]) for u in result.user_ids])
    np.testing.assert_allclose(result.ndcg, per_query["ndcg@10"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.hits, per_query["hit_rate@10"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.recall * np.minimum(relevant, 20), per_query["hits@20"], rtol=0, atol=1e-9)


def test_vectorised_metrics_equal_the_per_user_definitions() -> None:
    """measure_rankings (one membership test over all users) gives each user's ndcg/recall/hit/cold figures of
    the per-list functions, with padded ranks (-1) and titles nobody rated in training."""
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"user_id": rng.integers(0, 300, 6000) * 3 + 1, "movie_id": rng.integers(0, 200, 6000) * 2,
                          "rating": 4.0, "rated_at": 0})
    test = pd.DataFrame({"user_id": rng.integers(0, 300, 2000) * 3 + 1, "movie_id": rng.integers(0, 220, 2000) * 2,
                         "rating": 4.0, "rated_at": 0})
    data = InteractionData.from_ratings(train, item_ids=np.arange(220) * 2)
    top = rng.integers(-1, data.n_items, (data.n_users, 20))
    cold = data.item_counts() == 0
    got = measure_rankings(top, data, test, cold)
    assert len(got.user_ids) > 250 and np.isfinite(got.cold_recall).sum() > 20
    for j, user in enumerate(got.user_ids):
        row = np.searchsorted(data.user_ids, user)
        rel = np.unique(np.searchsorted(data.item_ids, test.loc[test["user_id"] == user, "movie_id"]))
        assert got.ndcg[j] == pytest.approx(ndcg_at_k(top[row], rel, 10), abs=1e-12)
        assert got.recall[j] == pytest.approx(recall_at_k(top[row], rel, 20), abs=1e-12)
        assert got.hits[j] == hit_at_k(top[row], rel, 10)
        c = rel[cold[rel]]
        expected = recall_at_k(top[row], c, 20) if len(c) else np.nan
        np.testing.assert_allclose(got.cold_recall[j], expected, atol=1e-12)
        np.testing.assert_allclose(got.cold_ndcg[j], ndcg_at_k(top[row], c, 20) if len(c) else np.nan, atol=1e-12)
