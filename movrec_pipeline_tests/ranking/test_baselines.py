"""The baselines and the evaluation machinery of issue 13: RP3beta, recent popularity, iALS, U20, intervals,
paired tests, and the metrics checked against ranx on real rankings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movrec_pipeline.ranking import baselines
from movrec_pipeline.ranking.evaluation import measure, t80_split, u20_split, validation_split
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.ranking.popularity import RecentPopularityRecommender
from movrec_pipeline.ranking.rp3beta import RP3betaRecommender
from movrec_pipeline.ranking.significance import bootstrap_ci, paired
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


def test_recent_popularity_counts_the_last_days_of_the_training_window() -> None:
    day = 86_400
    rows = [(u, 1, 4.0, 100 * day) for u in range(5)]  # old favourite
    rows += [(u, 2, 4.0, 200 * day) for u in range(2)] + [(9, 3, 4.0, 199 * day)]  # recent
    data = InteractionData.from_ratings(_frame(rows), item_ids=np.arange(1, 5))
    scores = RecentPopularityRecommender(days=30).fit(data).score(np.arange(1))[0]
    assert list(np.argsort(-scores, kind="stable")) == [1, 2, 0, 3]  # movie 2, 3, then 1 (all-time tie-break)


def test_u20_holds_out_whole_users_and_splits_their_history_by_time(real: pd.DataFrame) -> None:
    train, history, test = u20_split(real)
    held = set(history["user_id"])
    assert held == set(test["user_id"]) and not held & set(train["user_id"])
    assert len(held) == round(0.2 * real["user_id"].nunique())
    assert len(train) + len(history) + len(test) == len(real)
    last = history.groupby("user_id")["rated_at"].max()
    first = test.groupby("user_id")["rated_at"].min()
    assert (last <= first.loc[last.index]).all()  # history strictly before (or at) the test, per user
    again = u20_split(real)
    assert again[1].equals(history)  # fixed seed
    fit, valid = validation_split(train)
    assert len(valid) / len(train) == pytest.approx(0.1, abs=0.02) and set(valid["user_id"]) <= set(fit["user_id"])


@pytest.mark.parametrize("name", ["ease", "rp3beta", "ials", "mean_profile_svd", "recent_popularity"])
def test_fold_in_scores_users_the_model_never_saw(real: pd.DataFrame, name: str) -> None:
    """U20 on real data: every baseline scores held-out users from their history and beats random by far."""
    train, history, test = u20_split(real)
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
