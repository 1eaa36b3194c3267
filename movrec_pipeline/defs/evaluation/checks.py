"""The evaluation's checks: the project's method keeps its floor and beats the baselines of the same evaluation."""

import dagster as dg
import pandas as pd

from movrec_pipeline.defs.evaluation.assets import PROJECT_METHOD
from movrec_pipeline.defs.resources import PostgresResource, RecommenderSettings
from movrec_pipeline.defs.sources import files
from movrec_pipeline.warehouse import sqlfiles


def _versus_baselines(latest: pd.DataFrame, protocol: str) -> tuple[float | None, str, float, float | None]:
    """(our NDCG@10, best baseline, its NDCG@10, paired p-value) in the latest evaluation of ``protocol``."""
    rows = latest[latest["protocol"] == protocol]
    ours = rows[rows["method"] == PROJECT_METHOD]
    others = rows[rows["method"] != PROJECT_METHOD].sort_values("ndcg_at_10", ascending=False)
    if ours.empty:
        return None, "", 0.0, None
    best = others.iloc[0] if len(others) else None
    p = ours["p_vs_best"].iloc[0]
    return (float(ours["ndcg_at_10"].iloc[0]), "" if best is None else str(best["method"]),
            0.0 if best is None else float(best["ndcg_at_10"]), None if pd.isna(p) else float(p))


@dg.asset_check(asset="recommendation_quality", name="ndcg_above_floor", blocking=True,
                description="T80: the project's method keeps NDCG@10 at or above the configured floor on "
                "ml-latest-small (the floor was measured there), and above every tuned baseline of the same "
                "evaluation on any release.")
def ndcg_above_floor(postgres: PostgresResource, tuning: RecommenderSettings) -> dg.AssetCheckResult:
    ndcg, best, best_ndcg, p = _versus_baselines(postgres.read_frame(sqlfiles.load("evaluation/latest_evaluation")),
                                                 "T80")
    if ndcg is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no evaluation recorded"})
    release = files.movielens_release().name
    floor = tuning.ndcg_floor if release == files.DEFAULT_RELEASE else 0.0
    return dg.AssetCheckResult(passed=ndcg >= floor and ndcg > best_ndcg, metadata={
        "ndcg_at_10": round(ndcg, 4), "floor": floor, "best_baseline": best,
        "best_baseline_ndcg_at_10": round(best_ndcg, 4), "p_value": p if p is not None else float("nan"),
        "release": release})


@dg.asset_check(asset="recommendation_quality", name="u20_beats_baselines",
                description="U20 (users never trained on, folded in): the project's method above every tuned "
                "baseline by NDCG@10. A warning: on small samples the interval is wide (see p_value).")
def u20_beats_baselines(postgres: PostgresResource) -> dg.AssetCheckResult:
    ndcg, best, best_ndcg, p = _versus_baselines(postgres.read_frame(sqlfiles.load("evaluation/latest_evaluation")),
                                                 "U20")
    if ndcg is None:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"reason": "no U20 evaluation recorded"})
    return dg.AssetCheckResult(passed=ndcg > best_ndcg, severity=dg.AssetCheckSeverity.WARN, metadata={
        "ndcg_at_10": round(ndcg, 4), "best_baseline": best, "best_baseline_ndcg_at_10": round(best_ndcg, 4),
        "p_value": p if p is not None else float("nan")})
