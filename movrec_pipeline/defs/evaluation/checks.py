"""The evaluation's blocking check: the project's method keeps its quality floor."""

import dagster as dg

from movrec_pipeline.defs.evaluation.assets import PROJECT_METHOD
from movrec_pipeline.defs.resources import PostgresResource, RecommenderSettings
from movrec_pipeline.warehouse import sqlfiles


@dg.asset_check(asset="recommendation_quality", name="ndcg_above_floor", blocking=True,
                description="The project's method keeps NDCG@10 (T80) at or above the configured floor.")
def ndcg_above_floor(postgres: PostgresResource, tuning: RecommenderSettings) -> dg.AssetCheckResult:
    last = postgres.read_frame(sqlfiles.load("evaluation/latest_quality"), {"method": PROJECT_METHOD})
    if last.empty:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no evaluation recorded"})
    ndcg = float(last["ndcg_at_10"][0])
    return dg.AssetCheckResult(passed=ndcg >= tuning.ndcg_floor,
                               metadata={"ndcg_at_10": round(ndcg, 4), "floor": tuning.ndcg_floor})
