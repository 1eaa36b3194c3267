"""The offline evaluation of the MovieLens recommendations (protocols T80 and U20) beside tuned baselines."""

import math
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd

from movrec_pipeline.defs import versions
from movrec_pipeline.defs.metadata import column_schema, markdown_table
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderResource
from movrec_pipeline.ranking import baselines, evaluation, significance, user_lists
from movrec_pipeline.warehouse import fingerprints, movielens, sqlfiles, vectors
from movrec_pipeline.warehouse.tables import copy_frame

PROJECT_METHOD = "hybrid"
MAX_EVALUATED_USERS = 20_000  # above this, a fixed sample: the users whose id is a multiple of ceil(users / 20,000)


PROTOCOLS = ("T80", "U20")
METRICS = {"ndcg_at_10": "ndcg@10", "recall_at_20": "recall@20", "hr_at_10": "hr@10", "coverage_at_10": "coverage@10",
           "cold_recall_at_20": "cold_recall@20"}


@dg.asset(
    deps=["movielens_ratings", "movielens_movie_embeddings", "movielens_vector_index"], group_name="evaluation",
    kinds={"numpy", "scipy"}, automation_condition=DOWNSTREAM, owners=OWNERS, retry_policy=DB_RETRY,
    pool=DB_POOL, code_version="2",
    description="Offline evaluation on MovieLens of the project's method beside the tuned cheap baselines "
    f"({', '.join(baselines.CHEAP)}), on two protocols: T80 (per user the first 80 % of ratings by time train, "
    "the rest test) and U20 (a fixed fifth of the users never trained on: their first 80 % folded in at "
    "scoring time, the rest test). NDCG@10 with a 95 % bootstrap interval, Recall@20, HR@10, coverage@10, "
    "cold-movie Recall@20; the project's method against the best baseline with a paired Wilcoxon test. Above "
    "20,000 users a fixed sample is evaluated: the users whose id is a multiple of ceil(users / 20,000).",
    metadata={"dagster/column_schema": column_schema([
        ("evaluated_at", "timestamptz"), ("protocol", "text"), ("method", "text"), ("ndcg_at_10", "real"),
        ("ndcg_low", "real"), ("ndcg_high", "real"), ("recall_at_20", "real"), ("hr_at_10", "real"),
        ("coverage_at_10", "real"), ("cold_recall_at_20", "real"), ("users", "integer"), ("seconds", "real"),
        ("p_vs_best", "double precision")])},
)
def recommendation_quality(context: dg.AssetExecutionContext, postgres: PostgresResource,
                           embedding: EmbeddingResource, recommender: RecommenderResource) -> dg.MaterializeResult:
    model_id, dims = embedding.active_model(postgres)
    version = versions.inputs_version(context, postgres, model_id, recommender.ease_lambda, baselines.TUNED,
                                      baselines.TUNED_HYBRID)
    if versions.unchanged(context, version):
        last = postgres.read_frame(sqlfiles.load("evaluation/latest_quality"),
                                   {"method": PROJECT_METHOD, "protocol": "T80"})
        figures = {"ndcg_at_10": float(last["ndcg_at_10"][0]), "hr_at_10": float(last["hr_at_10"][0])} if len(
            last) else {}
        return versions.kept(context, version, None, **figures)
    with postgres.connect() as conn:
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
        item_ids, _ = movielens.catalogue(conn)
        n_users = int(conn.execute(sqlfiles.load("evaluation/user_count")).fetchone()[0])
        stride = max(1, math.ceil(n_users / MAX_EVALUATED_USERS))  # ML-32M: the users whose id is a multiple of 11
        ratings = movielens.ratings_frame(conn, user_buckets=(stride, [0]) if stride > 1 else None)
    text = user_lists.usable_text_vectors(user_lists.align_vectors(item_ids, keys, matrix, dims))
    splits = {"T80": (*evaluation.t80_split(ratings), None)}
    train, history, test = evaluation.u20_split(ratings)
    splits["U20"] = (train, test, history)
    del ratings
    now = datetime.now(UTC)
    rows, metadata = [], {"rebuilt": True, "text_vectors_used": text is not None,
                          "user_sample": f"user_id % {stride} = 0" if stride > 1 else "all users"}
    for protocol, (train, test, history) in splits.items():
        results = {}
        for name in (PROJECT_METHOD, *baselines.CHEAP):
            model = user_lists.hybrid(recommender.ease_lambda) if name == PROJECT_METHOD else baselines.make(name)
            results[name] = evaluation.measure(model, train, test, item_ids, text if name == PROJECT_METHOD else None,
                                               history=history)
            context.log.info("%s %s: %s", protocol, name, results[name].summary())
        best = best_baseline(results)
        versus = significance.paired(results[PROJECT_METHOD].ndcg, results[best].ndcg)  # once per protocol
        rows += quality_rows(now, protocol, results, versus)
        metadata[f"{'' if protocol == 'T80' else 'u20_'}users"] = int(results[PROJECT_METHOD].summary()["users"])
        metadata.update(quality_metadata(protocol, results, best, versus))
    table = pd.DataFrame(rows)
    with postgres.connect() as conn, conn.transaction():
        copy_frame(conn, "movrec", "recommendation_quality", table)
        fingerprints.record(conn, context.asset_key.to_user_string(), version)
    metadata["table"] = dg.MetadataValue.md(markdown_table(table.drop(columns=["evaluated_at"]).round(4), max_rows=40))
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version))


def best_baseline(results: dict[str, evaluation.Evaluation]) -> str:
    """The baseline with the highest mean NDCG@10."""
    return max((n for n in results if n != PROJECT_METHOD), key=lambda n: float(np.mean(results[n].ndcg)))


def quality_rows(now: datetime, protocol: str, results: dict[str, evaluation.Evaluation],
                 versus: significance.Paired) -> list[dict]:
    """One table row per method; the project's row carries the paired test against the best baseline."""
    rows = []
    for name, r in results.items():
        summary, (low, high) = r.summary(), significance.bootstrap_ci(r.ndcg)
        rows.append({"evaluated_at": now, "protocol": protocol, "method": name,
                     **{column: summary[key] for column, key in METRICS.items()}, "ndcg_low": low, "ndcg_high": high,
                     "users": int(summary["users"]), "seconds": summary["seconds"],
                     "p_vs_best": versus.p_wilcoxon if name == PROJECT_METHOD else None})
    return rows


def quality_metadata(protocol: str, results: dict[str, evaluation.Evaluation], best: str,
                     versus: significance.Paired) -> dict:
    """Numbers the UI plots over time: every metric of every method (T80 unprefixed for the project's method, as
    before; U20 under ``u20_``), and the comparison with the best baseline (``versus``)."""
    prefix = "" if protocol == "T80" else "u20_"
    out: dict = {f"{prefix}best_baseline": best, f"{prefix}ndcg_vs_best_baseline_pct": round(100 * versus.relative, 2),
                 f"{prefix}p_value_vs_best_baseline": float(f"{versus.p_wilcoxon:.3g}")}
    for name, r in results.items():
        summary = r.summary()
        label = prefix if name == PROJECT_METHOD else f"{prefix}{name}_"
        out.update({f"{label}{column}": round(float(np.nan_to_num(summary[key])), 4)
                    for column, key in METRICS.items()})
    return out
