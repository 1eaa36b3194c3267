"""The evaluation's checks: the project's method keeps its floor and beats the baselines of the same evaluation."""

import dagster as dg
import pandas as pd

from movrec_pipeline.defs.evaluation.assets import PROJECT_METHOD
from movrec_pipeline.defs.resources import CheckThresholds, PostgresResource, SourcesResource
from movrec_pipeline.ingest import files
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
                "ml-latest-small (the floor was measured there) and above popularity's on any release: a "
                "broken model falls below the simplest baseline.")
def ndcg_above_floor(postgres: PostgresResource, thresholds: CheckThresholds,
                     sources: SourcesResource) -> dg.AssetCheckResult:
    latest = postgres.read_frame(sqlfiles.load("evaluation/latest_evaluation"))
    ndcg, best, best_ndcg, p = _versus_baselines(latest, "T80")
    if ndcg is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no evaluation recorded"})
    release = sources.release().name
    floor = thresholds.ndcg_floor if release == files.DEFAULT_RELEASE else 0.0
    t80 = latest[latest["protocol"] == "T80"]
    popularity = float(t80.loc[t80["method"] == "popularity", "ndcg_at_10"].max())
    popularity = 0.0 if pd.isna(popularity) else popularity
    return dg.AssetCheckResult(passed=ndcg >= floor and ndcg > popularity, metadata={
        "ndcg_at_10": round(ndcg, 4), "floor": floor, "popularity_ndcg_at_10": round(popularity, 4),
        "best_baseline": best, "best_baseline_ndcg_at_10": round(best_ndcg, 4),
        "p_value": p if p is not None else float("nan"), "release": release})


def _beats_baselines(protocol: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset="recommendation_quality", name=f"{protocol.lower()}_beats_baselines",
                    description=f"{protocol}: the project's method above every tuned baseline of the same "
                    "evaluation by NDCG@10. A warning (see p_value: on small samples the interval is wide).")
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        ndcg, best, best_ndcg, p = _versus_baselines(
            postgres.read_frame(sqlfiles.load("evaluation/latest_evaluation")), protocol)
        if ndcg is None:
            return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                       metadata={"reason": f"no {protocol} evaluation recorded"})
        return dg.AssetCheckResult(passed=ndcg > best_ndcg, severity=dg.AssetCheckSeverity.WARN, metadata={
            "ndcg_at_10": round(ndcg, 4), "best_baseline": best, "best_baseline_ndcg_at_10": round(best_ndcg, 4),
            "p_value": p if p is not None else float("nan")})

    return _check


t80_beats_baselines = _beats_baselines("T80")
u20_beats_baselines = _beats_baselines("U20")
