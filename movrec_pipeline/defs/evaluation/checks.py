"""The evaluation's checks: the served method keeps its floor and leads every tuned baseline (blocking, on T80),
and the other goals (held-out users, new users, new titles, no recall traded) as warnings with their figures."""

import dagster as dg
import pandas as pd

from movrec_pipeline.defs.resources import CheckThresholds, PostgresResource, SourcesResource
from movrec_pipeline.ingest import files
from movrec_pipeline.ranking import quality
from movrec_pipeline.warehouse import sqlfiles

COLD_RECALL_GOAL = 0.10
WARN = dg.AssetCheckSeverity.WARN
CHECK = dict(asset="recommendation_quality")


def _latest(postgres: PostgresResource) -> pd.DataFrame:
    return postgres.read_frame(sqlfiles.load("evaluation/latest_evaluation"))


@dg.asset_check(**CHECK, name="ndcg_above_floor", blocking=True,
                description="T80: the served method keeps NDCG@10 at or above the configured floor on "
                "ml-latest-small (the floor was measured there) and above popularity's on any release: a "
                "broken model falls below the simplest baseline. Blocks the item model: yesterday's lists stay.")
def ndcg_above_floor(postgres: PostgresResource, thresholds: CheckThresholds,
                     sources: SourcesResource) -> dg.AssetCheckResult:
    served, others = quality.served_row(_latest(postgres), "T80")
    if served is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no evaluation recorded"})
    release = sources.release().name
    floor = thresholds.ndcg_floor if release == files.DEFAULT_RELEASE else 0.0
    popularity = float(others.loc[others["method"] == "popularity", "ndcg_at_10"].max())
    popularity, ndcg = 0.0 if pd.isna(popularity) else popularity, float(served["ndcg_at_10"])
    return dg.AssetCheckResult(passed=ndcg >= floor and ndcg > popularity, metadata={
        "ndcg_at_10": round(ndcg, 4), "floor": floor, "popularity_ndcg_at_10": round(popularity, 4),
        "release": release, "what_to_do": "look at movielens_model_selection's validation table and the ratings "
        "load: a model this weak is broken, not tuned badly"})


@dg.asset_check(**CHECK, name="t80_served_leads_baselines", blocking=True,
                description="T80: the served method's NDCG@10 is at or above every tuned baseline's. Blocking: when "
                "it falls behind, the item model and the user lists keep yesterday's version.")
def t80_served_leads_baselines(postgres: PostgresResource) -> dg.AssetCheckResult:
    ok, meta = quality.leads(_latest(postgres), "T80")
    return dg.AssetCheckResult(passed=ok, metadata={**meta, "what_to_do": "compare with the validation table of "
                               "movielens_model_selection: a baseline the hybrid family cannot serve leads on this "
                               "data (widen the hybrid's grid, or serve that baseline)"})


def _warn_leads(protocols: tuple[str, ...], name: str, what: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(**CHECK, name=name, description=f"{what}: the served method's NDCG@10 at or above every tuned "
                    "baseline's (a warning with the figures).")
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        latest = _latest(postgres)
        found = {p: quality.leads(latest, p) for p in protocols}
        meta = {f"{p.lower()}_{k}": v for p, (_, m) in found.items() for k, v in m.items()
                if k in ("ndcg_at_10", "best_baseline", "threshold", "reason")}
        behind = [p for p, (ok, _) in found.items() if not ok]
        return dg.AssetCheckResult(passed=not behind, severity=WARN,
                                   metadata={**meta, "behind_on": ", ".join(behind) or "none"})

    return _check


kfold_served_leads_baselines = _warn_leads(("KFOLD",), "kfold_served_leads_baselines",
                                           "Every user held out once (5-fold)")
new_users_served_leads_baselines = _warn_leads(tuple(f"NEW{n}" for n in quality.NEW_USER_COUNTS),
                                               "new_users_served_leads_baselines",
                                               "New users with only their first 1, 3, 5 and 10 ratings")


@dg.asset_check(**CHECK, name="no_recall_traded", description="T80 and KFOLD: merging cold titles into the lists "
                "costs no Recall@20 — the served method's is at or above the same method's without text and every "
                "baseline's (a warning).")
def no_recall_traded(postgres: PostgresResource) -> dg.AssetCheckResult:
    behind, meta = quality.recall_behind(_latest(postgres))
    return dg.AssetCheckResult(passed=not behind, severity=WARN,
                               metadata={**meta, "behind": "; ".join(behind) or "none"})


@dg.asset_check(**CHECK, name="cold_titles_found", description="T80 and LIO: the served method's cold Recall@20 "
                f"(titles nobody rated in training) reaches {COLD_RECALL_GOAL} (a warning: a goal, not a guarantee).")
def cold_titles_found(postgres: PostgresResource) -> dg.AssetCheckResult:
    latest = _latest(postgres)
    found = {p: float(row["cold_recall_at_20"]) for p in ("T80", "LIO")
             for row in [quality.served_row(latest, p)[0]] if row is not None and not pd.isna(row["cold_recall_at_20"])}
    if not found:
        return dg.AssetCheckResult(passed=False, severity=WARN, metadata={"reason": "no cold test items"})
    return dg.AssetCheckResult(passed=min(found.values()) >= COLD_RECALL_GOAL, severity=WARN, metadata={
        **{f"{p.lower()}_cold_recall_at_20": round(v, 4) for p, v in found.items()}, "threshold": COLD_RECALL_GOAL})
