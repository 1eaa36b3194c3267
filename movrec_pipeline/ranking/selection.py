"""Choosing the served MovieLens model on the loaded data's own validation split (no Dagster).

The validation split is taken from training data only: a sample of users, each user's first 80 % of ratings by time
(the T80 training part; the rest is the evaluation's test and is never read here), of which the last 10 % are held
out. On it:

* every baseline is tuned over a small grid (EASE, RP3beta, iALS, recent popularity);
* the project's hybrid is tuned by coordinate descent, one setting at a time from the last choice (a warm start),
  over a grid that contains plain EASE (no recency, binary weights, no popularity discount, no content): its
  best is never below EASE's on validation. EASE weights are solved once per regularisation and shared;
* the hybrid's popularity prior for short histories is tuned on simulated new users: a fifth of the sampled
  users are kept out of the fit and given only their first 1, 3, 5 or 10 training ratings (folded in), the rest of
  their training ratings being what to find; the setting with the best mean NDCG@10 over those counts is kept
  if the other users' validation NDCG@10 stays within :data:`WARM_TOLERANCE` of its value without a prior;
* the warm/cold merge of the chosen hybrid is calibrated on the same split (kept only when it loses no NDCG@10);
* the served method is the hybrid family's best. When a baseline that cannot be served (RP3beta, iALS) is better
  on validation, the choice says so; the evaluation's blocking check then decides on the test split.

Cost is bounded by the sample (``max_users``) and by the EASE head used here (``head_items``), not by the release.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from movrec_pipeline.ranking import baselines
from movrec_pipeline.ranking.calibration import Calibration
from movrec_pipeline.ranking.evaluation import (
    NEW_USER_COUNTS,
    first_ratings,
    kfold_users,
    measure,
    measure_fitted,
    t80_split,
    validation_split,
)
from movrec_pipeline.ranking.hybrid import EaseCache, HybridRecommender
from movrec_pipeline.ranking.interactions import InteractionData

SERVED = "hybrid"
DEFAULT_SETTINGS: dict[str, Any] = {"lambda_": 200.0, "rating_weighting": "centered", "recency_half_life": 3.0,
                                    "pop_beta": 0.2, "content_weight": 0.3, "prior_weight": 0.0, "prior_half": 3.0}
EASE_SETTINGS: dict[str, Any] = {"rating_weighting": "binary", "recency_half_life": 0.0, "pop_beta": 0.0,
                                 "content_weight": 0.0}  # the hybrid family's plain-EASE member
LAMBDA_STEPS = (0.4, 1.0, 2.5)  # around the last choice
HYBRID_GRID: dict[str, tuple] = {
    "rating_weighting": ("centered", "binary"),
    "recency_half_life": (0.0, 3.0, 10.0, 30.0),
    "pop_beta": (0.0, 0.2, 0.4),
    "content_weight": (0.0, 0.3, 0.6),
}
PRIOR_GRID: list[dict[str, float]] = [{"prior_weight": 0.0, "prior_half": 3.0}] + [
    {"prior_weight": w, "prior_half": h} for w in (0.5, 1.0, 2.0, 4.0, 8.0) for h in (2.0, 10.0)]
NEW_USER_SHARE = 5  # one user in five of the sample is a simulated new user (kept out of every fit here)
MIN_USERS_FOR_NEW = 50  # below it every user is needed for the fit (and no prior is tuned)
WARM_TOLERANCE = 0.005  # the prior may cost the other users at most this share of their validation NDCG@10
BASELINE_GRIDS: dict[str, list[dict[str, Any]]] = {  # small grids around the values tuned on ml-latest-small
    "recent_popularity": [{"days": d} for d in (90, 365, 730)],
    "rp3beta": [{"alpha": a, "beta": b, "neighbours": 300} for a in (0.6, 1.0) for b in (0.35, 0.5)],
    "ials": [{"factors": 64, "regularization": r, "alpha": a} for r in (0.1, 1.0) for a in (1.0, 10.0)],
}
MAX_USERS = 6_000
SELECTION_HEAD = 8_000
SEARCH = (MAX_USERS, SELECTION_HEAD, HYBRID_GRID, BASELINE_GRIDS, PRIOR_GRID)  # what decides a choice besides data


@dataclass
class Selection:
    """What the daily job serves and why: the hybrid's settings and calibration, the tuned baselines, and every
    candidate's validation figures."""

    served: str
    settings: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    validation: list[dict[str, Any]] = field(default_factory=list)  # method, settings, ndcg@10, recall@20, ...
    calibration: Calibration | None = None
    users: int = 0
    ratings: int = 0
    seconds: float = 0.0
    note: str = ""
    new_users: list[dict[str, Any]] = field(default_factory=list)  # prior settings, NDCG@10 per history length

    def hybrid(self, head_items: int = baselines.HEAD_ITEMS, name: str = SERVED) -> HybridRecommender:
        """An unfitted model with the chosen settings (the calibration is applied after fitting: :meth:`apply`)."""
        return HybridRecommender(head_items=head_items, name=name, **self.settings)

    def apply(self, model: HybridRecommender) -> HybridRecommender:
        """Give a fitted hybrid the chosen calibration (when its catalogue has cold items to merge)."""
        model.calibration_ = self.calibration if len(model.cold_) else None
        return model

    def as_record(self) -> dict[str, Any]:
        """JSON-ready (the calibration as lists)."""
        out = asdict(self)
        out["calibration"] = None if self.calibration is None else {
            k: v.tolist() for k, v in self.calibration.as_arrays().items()}
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Selection:
        cal = record.get("calibration")
        return cls(**{**record, "calibration": None if not cal else Calibration.from_arrays(
            {k: np.asarray(v) for k, v in cal.items()})})

    def figures(self) -> dict[str, Any]:
        """Plain figures of the choice for the UI: served method, validation NDCG@10, merge, sample, note."""
        cal, served = self.calibration, self.best_validation(self.served) or {}
        return {"served": self.served, "validation_ndcg_at_10": round(float(served.get("ndcg@10", float("nan"))), 4),
                "merge": "calibrated by hit probability per rank" if cal is not None else "head first",
                "cold_can_enter_top_10": bool(cal is not None and cal.cold_can_enter(10)),
                "cold_can_enter_top_20": bool(cal is not None and cal.cold_can_enter(20)),
                "users": self.users, "ratings": self.ratings, "seconds": self.seconds, "note": self.note or "none"}

    def validation_table(self) -> pd.DataFrame:
        """Each candidate's best validation figures, best first (settings as JSON text)."""
        best = pd.DataFrame([self.best_validation(m) for m in dict.fromkeys(r["method"] for r in self.validation)])
        if best.empty:
            return best
        best["settings"] = best["settings"].map(lambda s: json.dumps(s, sort_keys=True))
        return best.sort_values("ndcg@10", ascending=False).reset_index(drop=True)

    def prior_table(self) -> pd.DataFrame:
        """Each popularity prior tried on simulated new users: NDCG@10 per history length (best first)."""
        return pd.DataFrame(self.new_users)

    def best_validation(self, method: str) -> dict[str, Any] | None:
        rows = [r for r in self.validation if r["method"] == method]
        return max(rows, key=lambda r: r["ndcg@10"]) if rows else None


def default_selection() -> Selection:
    """The choice before any tuning ran: the values tuned once on ml-latest-small."""
    return Selection(SERVED, dict(DEFAULT_SETTINGS), {k: dict(v) for k, v in baselines.TUNED.items()})


def sample_users(ratings: pd.DataFrame, max_users: int, seed: int = 0) -> pd.DataFrame:
    """Every rating of at most ``max_users`` users (a fixed random choice)."""
    users = np.unique(ratings["user_id"].to_numpy())
    if len(users) <= max_users:
        return ratings
    chosen = np.random.default_rng(seed).choice(users, size=max_users, replace=False)
    return ratings[ratings["user_id"].isin(chosen).to_numpy()]


def select(ratings: pd.DataFrame, item_ids: np.ndarray, text: np.ndarray | None, previous: Selection | None = None,
           max_users: int = MAX_USERS, head_items: int = SELECTION_HEAD,
           log: Callable[[str], None] = lambda _m: None) -> Selection:
    """Tune every candidate on the validation split of a user sample and choose what to serve (see the module).

    ``text`` rows follow ``item_ids`` (sorted); ``previous`` is the last choice (the hybrid's search starts there).
    """
    started = time.perf_counter()
    order = np.argsort(item_ids, kind="stable")
    item_ids = np.asarray(item_ids)[order]
    text = None if text is None else np.asarray(text)[order]
    sample = sample_users(ratings, max_users)
    train, _ = t80_split(sample)
    if train["user_id"].nunique() >= MIN_USERS_FOR_NEW:
        fit_users, new_known, new_rest = kfold_users(train, NEW_USER_SHARE)[0]
    else:  # too few users to spare any: no prior
        fit_users, new_known, new_rest = train, train.iloc[:0], train.iloc[:0]
    fit_part, val = validation_split(fit_users)
    data = InteractionData.from_ratings(fit_part, item_ids=item_ids)
    ease = EaseCache(data, head_items, shared=True)
    rows: list[dict[str, Any]] = []

    def record(method: str, settings: dict[str, Any], result) -> float:
        summary = result.summary()
        rows.append({"method": method, "settings": settings, "ndcg@10": summary["ndcg@10"],
                     "recall@20": summary["recall@20"], "cold_recall@20": summary["cold_recall@20"]})
        log(f"validation {method} {settings}: NDCG@10 {summary['ndcg@10']:.4f}, Recall@20 {summary['recall@20']:.4f}")
        return summary["ndcg@10"]

    def hybrid_score(settings: dict[str, Any], with_text: bool = True) -> tuple[float, HybridRecommender]:
        model = HybridRecommender(head_items=head_items, **settings)
        model.fit(data, text if with_text else None, ease=ease)
        return record(SERVED if with_text else "ease", settings, measure_fitted(model, data, val)), model

    prev = previous or default_selection()
    current = {**DEFAULT_SETTINGS, **prev.settings, **PRIOR_GRID[0]}  # the prior is tuned last, on new users
    tried: dict[tuple, float] = {}

    def score_of(settings: dict[str, Any]) -> float:
        key = tuple(sorted(settings.items()))
        if key not in tried:
            tried[key] = hybrid_score(settings)[0]
        return tried[key]

    lambdas = sorted({round(float(current["lambda_"]) * s, 1) for s in LAMBDA_STEPS})
    for lam in lambdas:  # EASE (the baseline) on each regularisation first: its weights are then shared
        hybrid_score({"lambda_": lam, **EASE_SETTINGS}, with_text=False)
    best_lambda = max(lambdas, key=lambda lam: score_of({**current, "lambda_": lam}))
    current["lambda_"] = best_lambda
    for name, grid in HYBRID_GRID.items():
        if name == "content_weight" and text is None:
            current[name] = 0.0
            continue
        current[name] = max(grid, key=lambda v, name=name: score_of({**current, name: v}))
    ease_rows = [r for r in rows if r["method"] == "ease"]
    best_ease = max(ease_rows, key=lambda r: r["ndcg@10"])
    if best_ease["ndcg@10"] > score_of(current):  # plain EASE is a member of the family
        current = {**best_ease["settings"], **PRIOR_GRID[0]}
    model = HybridRecommender(head_items=head_items, **current).fit(data, text, ease=ease)
    prior, new_rows = tune_prior(model, data, val, score_of(current), new_known, new_rest, log)
    current.update(prior)
    tuned = {"ease": {"lambda_": best_ease["settings"]["lambda_"]}, "popularity": {}, "mean_profile_svd": {}}
    for name, grid in BASELINE_GRIDS.items():
        scores = [record(name, params, measure(baselines.make(name, head_items, **params), fit_part, val, item_ids))
                  for params in grid]
        tuned[name] = grid[int(np.argmax(scores))]
    for name in ("popularity", "mean_profile_svd"):
        record(name, {}, measure(baselines.make(name, head_items), fit_part, val, item_ids))

    plain = measure_fitted(model, data, val).summary()
    calibration = model.calibrate(data, val) if text is not None else None
    if calibration is not None:
        calibrated = measure_fitted(model, data, val).summary()
        log(f"calibrated merge: NDCG@10 {calibrated['ndcg@10']:.4f} vs {plain['ndcg@10']:.4f} head first, "
            f"Recall@20 {calibrated['recall@20']:.4f} vs {plain['recall@20']:.4f}, cold Recall@20 "
            f"{calibrated['cold_recall@20']:.4f}")
        rows.append({"method": f"{SERVED}_calibrated", "settings": current, "ndcg@10": calibrated["ndcg@10"],
                     "recall@20": calibrated["recall@20"], "cold_recall@20": calibrated["cold_recall@20"]})
        if calibrated["ndcg@10"] < plain["ndcg@10"] or calibrated["recall@20"] < plain["recall@20"]:
            calibration = None  # the merge would trade quality on this data: head first
    best_other = max((r for r in rows if r["method"] not in (SERVED, f"{SERVED}_calibrated", "ease")),
                     key=lambda r: r["ndcg@10"])
    note = ""
    if best_other["ndcg@10"] > plain["ndcg@10"]:
        note = (f"{best_other['method']} is better on validation (NDCG@10 {best_other['ndcg@10']:.4f} vs "
                f"{plain['ndcg@10']:.4f}) but cannot be served; the evaluation's blocking check decides")
        log(note)
    return Selection(SERVED, current, tuned, rows, calibration, int(sample["user_id"].nunique()), len(sample),
                     round(time.perf_counter() - started, 1), note, new_rows)


def tune_prior(model: HybridRecommender, data: InteractionData, val: pd.DataFrame, warm_ndcg: float,
               new_known: pd.DataFrame, new_rest: pd.DataFrame, log: Callable[[str], None]
               ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The popularity prior that serves simulated new users best (see the module; ``model`` is the chosen hybrid,
    fitted, without a prior, ``warm_ndcg`` its validation NDCG@10), set on ``model``, and each tried prior's
    figures. Only the prior's two numbers change between tries: nothing is fitted again."""
    chosen: dict[str, float] = dict(PRIOR_GRID[0])
    rows: list[dict[str, Any]] = []
    if not new_known.empty:
        histories = {n: first_ratings(new_known, new_rest, n) for n in NEW_USER_COUNTS}
        for prior in PRIOR_GRID:
            model.prior_weight, model.prior_half = prior["prior_weight"], prior["prior_half"]
            row: dict[str, Any] = {**prior}
            for n, (history, rest) in histories.items():
                row[f"ndcg@10 new{n}"] = measure_fitted(model, data, rest, history=history).summary()["ndcg@10"]
            row["ndcg@10 new"] = float(np.mean([row[f"ndcg@10 new{n}"] for n in histories]))
            rows.append(row)
        rows.sort(key=lambda r: -r["ndcg@10 new"])
        for row in rows:  # best for new users first; the first that keeps the other users' figure wins
            if row["prior_weight"] == 0.0:
                break
            model.prior_weight, model.prior_half = row["prior_weight"], row["prior_half"]
            row["ndcg@10 validation"] = measure_fitted(model, data, val).summary()["ndcg@10"]
            if row["ndcg@10 validation"] >= (1 - WARM_TOLERANCE) * warm_ndcg:
                chosen = {"prior_weight": row["prior_weight"], "prior_half": row["prior_half"]}
                break
        for row in rows:
            log(f"new users, prior {row['prior_weight']:g} (half {row['prior_half']:g}): NDCG@10 "
                + ", ".join(f"{n}: {row[f'ndcg@10 new{n}']:.4f}" for n in histories)
                + (f"; validation {row['ndcg@10 validation']:.4f}" if "ndcg@10 validation" in row else ""))
        log(f"popularity prior chosen: {chosen}")
    model.prior_weight, model.prior_half = chosen["prior_weight"], chosen["prior_half"]
    return chosen, rows
