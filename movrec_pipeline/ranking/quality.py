"""The offline evaluation of the served method against every tuned baseline, on several protocols (no Dagster).

* **T80**: per user, the first 80 % of ratings by time train, the rest test.
* **KFOLD**: k-fold cross-validation over users; every user is held out of training once, their first 80 % of
  ratings folded in at scoring time (no refit), the rest test. Per-user figures of all folds are pooled, so the
  paired tests run over every user. Above ``FOLD_USERS`` users the folds are over a fixed sample of that many
  (scoring cost bounded; the five folds' item-side fits still grow with the catalogue: docs/evaluation.md).
* **NEW1, NEW3, NEW5, NEW10**: the same folds' models, for a held-out user who has given only their first n
  ratings; the test is every later rating.
* **LIO** (leave items out): a random 10 % of the rated movies leave the T80 training data entirely; the test is
  T80's, and cold figures are over the titles nobody rated in training (those and never-rated ones).

Every method is fitted once per split and scored on every protocol that split serves. The served method is the
hybrid with the settings and calibration of the :class:`~movrec_pipeline.ranking.selection.Selection`; the
baselines carry the values tuned there. ``hybrid_no_text`` (the same settings, no text vectors, so no cold list)
shows what the merge of cold titles costs or gains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from movrec_pipeline.ranking import baselines, significance
from movrec_pipeline.ranking.evaluation import (
    NEW_USER_COUNTS,
    Evaluation,
    first_ratings,
    kfold_users,
    leave_items_out,
    measure_fitted,
    t80_split,
)
from movrec_pipeline.ranking.hybrid import EaseCache, HybridRecommender
from movrec_pipeline.ranking.interactions import InteractionData
from movrec_pipeline.ranking.selection import EASE_SETTINGS, SERVED, Selection, sample_users

NO_TEXT = f"{SERVED}_no_text"
BASELINES = ("popularity", "recent_popularity", "ease", "rp3beta", "ials", "mean_profile_svd")
PROTOCOLS = ("T80", "KFOLD", *(f"NEW{n}" for n in NEW_USER_COUNTS), "LIO")
FOLDS = 5
FOLD_USERS = 6_000  # the KFOLD / NEW protocols' users at most (a fixed sample above it)
LIO_FRACTION = 0.1


@dataclass
class ProtocolResult:
    """Every method's per-user figures on one protocol, and the served method against each baseline."""

    protocol: str
    results: dict[str, Evaluation]
    versus: dict[str, significance.Paired] = field(default_factory=dict)

    def best_baseline(self) -> str | None:
        names = [n for n in self.results if n in BASELINES]
        return max(names, key=lambda n: float(np.mean(self.results[n].ndcg))) if names else None

    def mean(self, method: str, metric: str) -> float:
        return float(self.results[method].summary()[metric]) if method in self.results else float("nan")


def fit_split(train: pd.DataFrame, item_ids: np.ndarray, text: np.ndarray | None, selection: Selection,
              head_items: int, methods: tuple[str, ...], encode_users: bool) -> tuple[InteractionData, dict]:
    """Every method in ``methods`` fitted on ``train`` (EASE weights shared between the EASE-based models)."""
    data = InteractionData.from_ratings(train, item_ids=item_ids)
    ease = EaseCache(data, head_items, shared=True)
    models = {}
    for name in methods:
        if name in (SERVED, NO_TEXT):
            model = selection.hybrid(head_items, name)
            model.fit_items(data, text if name == SERVED else None, ease=ease)
            if name == SERVED:
                selection.apply(model)
        elif name == "ease":
            model = HybridRecommender(head_items=head_items, name="ease",
                                      lambda_=selection.baselines["ease"]["lambda_"], **EASE_SETTINGS)
            model.fit_items(data, None, ease=ease)
        else:
            model = baselines.make(name, head_items, **selection.baselines.get(name, {}))
            model.fit(data)
        if encode_users and isinstance(model, HybridRecommender):
            model.users_ = model.encode(data)
        models[name] = model
    return data, models


def pooled(parts: list[Evaluation]) -> Evaluation:
    """One evaluation over the users of several (disjoint) parts; coverage is the users-weighted mean."""
    users = sum(len(p.ndcg) for p in parts)
    cat = {name: np.concatenate([getattr(p, name) for p in parts])
           for name in ("user_ids", "ndcg", "recall", "hits", "cold_recall", "cold_ndcg")}
    coverage = sum(p.coverage * len(p.ndcg) for p in parts) / max(users, 1)
    return Evaluation(cat["user_ids"], cat["ndcg"], cat["recall"], cat["hits"], cat["cold_recall"], coverage,
                      sum(p.fit_seconds for p in parts), sum(p.seconds for p in parts), parts[0].k_ndcg,
                      parts[0].k_recall, cold_ndcg=cat["cold_ndcg"])


def evaluate_protocols(ratings: pd.DataFrame, item_ids: np.ndarray, text: np.ndarray | None, selection: Selection,
                       head_items: int = baselines.HEAD_ITEMS, protocols: tuple[str, ...] = PROTOCOLS,
                       folds: int = FOLDS, fold_users: int = FOLD_USERS,
                       log: Callable[[str], None] = lambda _m: None) -> list[ProtocolResult]:
    """Run ``protocols`` on ``ratings`` (``text`` rows follow ``item_ids``); see the module for each protocol."""
    order = np.argsort(item_ids, kind="stable")
    item_ids = np.asarray(item_ids)[order]
    text = None if text is None else np.asarray(text)[order]
    methods = (SERVED, NO_TEXT, *BASELINES) if text is not None else (SERVED, *BASELINES)
    found: dict[str, dict[str, list[Evaluation]]] = {p: {} for p in protocols}

    def add(protocol: str, name: str, result: Evaluation) -> None:
        found[protocol].setdefault(name, []).append(result)

    train, test = t80_split(ratings)
    if "T80" in protocols:
        started = time.perf_counter()
        data, models = fit_split(train, item_ids, text, selection, head_items, methods, encode_users=True)
        for name, model in models.items():
            add("T80", name, measure_fitted(model, data, test))
        log(f"T80: {len(models)} methods in {time.perf_counter() - started:.0f} s")
    new_users = [p for p in protocols if p.startswith("NEW")]
    if "KFOLD" in protocols or new_users:
        fold_ratings = sample_users(ratings, fold_users)
        log(f"KFOLD / NEW: {fold_ratings['user_id'].nunique():,} users in {folds} folds")
        for f, (fold_train, known, fold_test) in enumerate(kfold_users(fold_ratings, folds)):
            started = time.perf_counter()
            data, models = fit_split(fold_train, item_ids, text, selection, head_items, methods, encode_users=False)
            for name, model in models.items():
                if "KFOLD" in protocols:
                    add("KFOLD", name, measure_fitted(model, data, fold_test, history=known))
                for protocol in new_users:
                    history, rest = first_ratings(known, fold_test, int(protocol[3:]))
                    add(protocol, name, measure_fitted(model, data, rest, history=history))
            log(f"fold {f + 1}/{folds}: {len(models)} methods in {time.perf_counter() - started:.0f} s")
    if "LIO" in protocols:
        started = time.perf_counter()
        lio_train, held = leave_items_out(train, item_ids, LIO_FRACTION)
        data, models = fit_split(lio_train, item_ids, text, selection, head_items, methods, encode_users=True)
        for name, model in models.items():
            add("LIO", name, measure_fitted(model, data, test))
        log(f"LIO ({len(held):,} titles held out): {len(models)} methods in {time.perf_counter() - started:.0f} s")
    out = []
    for protocol in protocols:
        results = {name: pooled(parts) for name, parts in found[protocol].items()}
        versus = {name: significance.paired(results[SERVED].ndcg, results[name].ndcg)
                  for name in results if name != SERVED}
        out.append(ProtocolResult(protocol, results, versus))
    return out


METRICS = {"ndcg_at_10": "ndcg@10", "recall_at_20": "recall@20", "hr_at_10": "hr@10", "coverage_at_10": "coverage@10",
           "cold_recall_at_20": "cold_recall@20", "cold_ndcg_at_20": "cold_ndcg@20"}  # table column -> summary key


def table_rows(now: datetime, result: ProtocolResult) -> list[dict]:
    """The ``movrec.recommendation_quality`` rows of a protocol, one per method: the served method's row carries
    the paired test against the best baseline, each baseline's row the test against the served method."""
    rows = []
    best = result.best_baseline()
    for name, r in result.results.items():
        summary, (low, high) = r.summary(), significance.bootstrap_ci(r.ndcg)
        versus = result.versus.get(best if name == SERVED else name)
        rows.append({"evaluated_at": now, "protocol": result.protocol, "method": name,
                     **{column: summary[key] for column, key in METRICS.items()}, "ndcg_low": low, "ndcg_high": high,
                     "users": int(summary["users"]), "seconds": summary["seconds"],
                     "p_vs_best": None if versus is None else versus.p_wilcoxon})
    return rows


def figures(result: ProtocolResult) -> dict:
    """Numbers the UI plots over time, prefixed by protocol: every method's NDCG@10 and Recall@20, the best
    baseline, the served method's lead over it."""
    p = result.protocol.lower()
    best = result.best_baseline()
    out: dict = {f"{p}_best_baseline": best or "none"}
    if best is not None:
        versus = result.versus[best]
        out[f"{p}_ndcg_vs_best_baseline_pct"] = round(100 * float(np.nan_to_num(versus.relative)), 2)
        out[f"{p}_p_value_vs_best_baseline"] = float(f"{versus.p_wilcoxon:.3g}")
    for name, r in result.results.items():
        summary = r.summary()
        out[f"{p}_{name}_ndcg_at_10"] = round(float(np.nan_to_num(summary["ndcg@10"])), 4)
        out[f"{p}_{name}_recall_at_20"] = round(float(np.nan_to_num(summary["recall@20"])), 4)
    out[f"{p}_{SERVED}_cold_recall_at_20"] = round(float(np.nan_to_num(result.mean(SERVED, "cold_recall@20"))), 4)
    return out


def served_row(latest: pd.DataFrame, protocol: str) -> tuple[pd.Series | None, pd.DataFrame]:
    """(the served method's row, the baselines' rows) of ``protocol`` in a table of :func:`table_rows`."""
    rows = latest[latest["protocol"] == protocol]
    served = rows[rows["method"] == SERVED]
    return (served.iloc[0] if len(served) else None), rows[rows["method"].isin(BASELINES)]


def leads(latest: pd.DataFrame, protocol: str, metric: str = "ndcg_at_10") -> tuple[bool, dict]:
    """Whether the served method is at or above every baseline on ``metric`` in ``protocol``, with the figures."""
    served, others = served_row(latest, protocol)
    if served is None or others.empty:
        return False, {"reason": f"no {protocol} evaluation recorded"}
    best = others.sort_values(metric, ascending=False).iloc[0]
    p = served.get("p_vs_best")
    return float(served[metric]) >= float(best[metric]), {
        metric: round(float(served[metric]), 4), "best_baseline": str(best["method"]),
        "threshold": round(float(best[metric]), 4), "p_value": float("nan") if pd.isna(p) else float(p),
        **{f"{m}_{metric}": round(float(v), 4) for m, v in zip(others["method"], others[metric], strict=True)}}


def recall_behind(latest: pd.DataFrame, protocols: tuple[str, ...] = ("T80", "KFOLD")) -> tuple[list[str], dict]:
    """Methods whose Recall@20 is above the served method's (the same method without text included)."""
    behind, figures_ = [], {}
    for protocol in protocols:
        rows = latest[latest["protocol"] == protocol].set_index("method")["recall_at_20"]
        if SERVED not in rows:
            behind.append(f"{protocol}: not evaluated")
            continue
        figures_[f"{protocol.lower()}_recall_at_20"] = round(float(rows[SERVED]), 4)
        behind += [f"{protocol}: {other} {float(rows[other]):.4f}" for other in (NO_TEXT, *BASELINES)
                   if other in rows and float(rows[other]) > float(rows[SERVED])]
    return behind, figures_
