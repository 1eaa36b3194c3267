"""The offline evaluation of the MovieLens recommendations (protocol T80) beside the baselines."""

import math
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd

from movrec_pipeline.defs.embeddings.registry import active_model
from movrec_pipeline.defs.metadata import column_schema, markdown_table
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.recommendations import movielens_lists
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderSettings
from movrec_pipeline.defs.sources import movielens_reads
from movrec_pipeline.ranking import evaluation
from movrec_pipeline.ranking.mean_profile import MeanProfileRecommender
from movrec_pipeline.ranking.popularity import PopularityRecommender
from movrec_pipeline.warehouse import fingerprints, sqlfiles, vectors
from movrec_pipeline.warehouse.tables import copy_frame

PROJECT_METHOD = "hybrid"
MAX_EVALUATED_USERS = 20_000  # above this, a fixed sample: the users whose id is a multiple of ceil(users / 20,000)


@dg.asset(
    deps=["movielens_ratings", "movielens_movie_embeddings", "movielens_vector_index"], group_name="evaluation",
    kinds={"numpy", "scipy"}, automation_condition=DOWNSTREAM, owners=OWNERS, retry_policy=DB_RETRY,
    pool=DB_POOL, code_version="1",
    description="Offline evaluation on MovieLens, protocol T80 (per user the first 80 % of ratings by time "
    "train, the rest test): NDCG@10, Recall@20, HR@10, coverage@10, cold-movie Recall@20 of the project's "
    "method beside popularity and the seeds' mean-profile method. Above 20,000 users a fixed sample is "
    "evaluated: the users whose id is a multiple of ceil(users / 20,000).",
    metadata={"dagster/column_schema": column_schema([
        ("evaluated_at", "timestamptz"), ("method", "text"), ("ndcg_at_10", "real"), ("recall_at_20", "real"),
        ("hr_at_10", "real"), ("coverage_at_10", "real"), ("cold_recall_at_20", "real"), ("users", "integer"),
        ("seconds", "real")])},
)
def recommendation_quality(context: dg.AssetExecutionContext, postgres: PostgresResource,
                           embedding: EmbeddingResource, tuning: RecommenderSettings) -> dg.MaterializeResult:
    model_id, dims = active_model(postgres, embedding)
    with postgres.connect() as conn:
        fp = fingerprints.combine(fingerprints.ratings(conn), fingerprints.vectors(conn, "movielens", model_id),
                                  tuning.ease_lambda, "t80-v1")
        if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp):
            context.log.info("inputs unchanged: the last evaluation stands")
            last = postgres.read_frame(sqlfiles.load("evaluation/latest_quality"), {"method": PROJECT_METHOD})
            meta = {"rebuilt": False}
            if len(last):
                meta.update({"ndcg_at_10": float(last["ndcg_at_10"][0]), "hr_at_10": float(last["hr_at_10"][0])})
            return dg.MaterializeResult(metadata=meta)
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
    item_ids, _ = movielens_reads.catalogue(postgres)
    text = movielens_lists.usable_text_vectors(movielens_lists.align_vectors(item_ids, keys, matrix, dims))
    n_users = int(postgres.read_frame(sqlfiles.load("evaluation/user_count")).iloc[0, 0])
    stride = max(1, math.ceil(n_users / MAX_EVALUATED_USERS))  # ML-32M: the users whose id is a multiple of 11
    sample = (stride, [0]) if stride > 1 else None
    train, test = evaluation.t80_split(movielens_reads.ratings_frame(postgres, user_buckets=sample))
    methods = {PROJECT_METHOD: movielens_lists.hybrid(tuning.ease_lambda), "popularity": PopularityRecommender(),
               "mean_profile_svd": MeanProfileRecommender("svd", name="mean_profile_svd")}
    results = {}
    for name, rec in methods.items():
        results[name] = evaluation.evaluate(rec, train, test, item_ids, text)
        context.log.info("%s: %s", name, results[name])
    now = datetime.now(UTC)
    rows = pd.DataFrame([{
        "evaluated_at": now, "method": name, "ndcg_at_10": r["ndcg@10"], "recall_at_20": r["recall@20"],
        "hr_at_10": r["hr@10"], "coverage_at_10": r["coverage@10"], "cold_recall_at_20": r["cold_recall@20"],
        "users": int(r["users"]), "seconds": r["seconds"]} for name, r in results.items()])
    with postgres.connect() as conn, conn.transaction():
        copy_frame(conn, "movrec", "recommendation_quality", rows)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
    best = results[PROJECT_METHOD]
    metadata: dict = {"rebuilt": True, "users": int(best["users"]), "text_vectors_used": text is not None,
                      "user_sample": f"user_id % {stride} = 0" if stride > 1 else "all users"}
    for name, r in results.items():
        prefix = "" if name == PROJECT_METHOD else f"{name}_"
        metadata.update({f"{prefix}ndcg_at_10": round(float(r["ndcg@10"]), 4),
                         f"{prefix}recall_at_20": round(float(r["recall@20"]), 4),
                         f"{prefix}hr_at_10": round(float(r["hr@10"]), 4),
                         f"{prefix}coverage_at_10": round(float(r["coverage@10"]), 4),
                         f"{prefix}cold_recall_at_20": round(float(np.nan_to_num(r["cold_recall@20"])), 4)})
    metadata["table"] = dg.MetadataValue.md(markdown_table(rows.drop(columns=["evaluated_at"]).round(4)))
    return dg.MaterializeResult(metadata=metadata)


