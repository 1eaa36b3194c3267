"""The evaluation's blocking check: the project's method keeps its quality floor."""

import dagster as dg

from movrec_pipeline.defs.evaluation.assets import PROJECT_METHOD
from movrec_pipeline.defs.resources import PostgresResource, RecommenderSettings
from movrec_pipeline.defs.sources import files
from movrec_pipeline.warehouse import sqlfiles


@dg.asset_check(asset="recommendation_quality", name="ndcg_above_floor", blocking=True,
                description="The project's method keeps NDCG@10 (T80) at or above the configured floor on "
                "ml-latest-small (the floor was measured there), and above every baseline of the same evaluation "
                "on any release.")
def ndcg_above_floor(postgres: PostgresResource, tuning: RecommenderSettings) -> dg.AssetCheckResult:
    latest = postgres.read_frame(sqlfiles.load("evaluation/latest_evaluation"))
    ours = latest[latest["method"] == PROJECT_METHOD]
    if ours.empty:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no evaluation recorded"})
    ndcg = float(ours["ndcg_at_10"].iloc[0])
    baselines = latest[latest["method"] != PROJECT_METHOD]
    best = float(baselines["ndcg_at_10"].max()) if len(baselines) else 0.0
    release = files.movielens_release().name
    floor = tuning.ndcg_floor if release == files.DEFAULT_RELEASE else 0.0
    return dg.AssetCheckResult(passed=ndcg >= floor and ndcg > best, metadata={
        "ndcg_at_10": round(ndcg, 4), "floor": floor, "best_baseline_ndcg_at_10": round(best, 4),
        "release": release})
