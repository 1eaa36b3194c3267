"""MovieLens: collaborative (SVD) item vectors, user recommendations, similar movies, offline quality."""

import time
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd

from movrec_pipeline import embedding_sync, fingerprints, movielens_recs, vectors
from movrec_pipeline.assets.common import (
    DB_POOL,
    DB_RETRY,
    DOWNSTREAM,
    OWNERS,
    column_schema,
    read_frame,
    skip_unchanged,
)
from movrec_pipeline.assets.embeddings import N_BUCKETS, active_model
from movrec_pipeline.db import sqlfiles
from movrec_pipeline.loaders.tables import markdown_table, replace_rows
from movrec_pipeline.ranking import evaluation
from movrec_pipeline.ranking.models import (
    HybridRecommender,
    InteractionData,
    MeanProfileRecommender,
    PopularityRecommender,
    truncated_svd_item_vectors,
)
from movrec_pipeline.resources import EmbeddingResource, PostgresResource, RecommenderSettings

SVD_DIMS = 64
SVD_MODEL = ("svd", f"truncated-svd-{SVD_DIMS}", SVD_DIMS, "ratings")
COMMON = dict(owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, code_version="1")


def _catalogue(postgres: PostgresResource) -> tuple[np.ndarray, dict[int, str]]:
    movies = read_frame(postgres, "SELECT movie_id, clean_title FROM movielens.movies ORDER BY movie_id")
    return movies["movie_id"].to_numpy(), dict(movies.itertuples(index=False))


def _svd_model_id(postgres: PostgresResource) -> int:
    with postgres.connect() as conn:
        return embedding_sync.register_model(conn, *SVD_MODEL)


def _hybrid(tuning: RecommenderSettings) -> HybridRecommender:
    return HybridRecommender(lambda_=tuning.ease_lambda) if tuning.ease_lambda else HybridRecommender()


@dg.asset(
    deps=["movielens_ratings", "movielens_movies"], group_name="embeddings", kinds={"pgvector", "scipy"},
    automation_condition=DOWNSTREAM, **COMMON,
    description="Collaborative item vectors from the MovieLens ratings matrix (truncated SVD, as in seed 004), "
    "stored beside the text vectors as model `truncated-svd-64`; rebuilt when the ratings change.",
    metadata={"dagster/column_schema": column_schema([
        ("item_kind", "text"), ("model_id", "integer"), ("item_key", "text"), ("text_hash", "text"),
        ("embedding", "vector(64)"), ("embedded_at", "timestamptz")])},
)
def movielens_collaborative_vectors(context: dg.AssetExecutionContext,
                                    postgres: PostgresResource) -> dg.MaterializeResult:
    model_id = _svd_model_id(postgres)
    with postgres.connect() as conn:
        source = fingerprints.ratings(conn)
    fp = fingerprints.combine(source, SVD_MODEL)
    with postgres.connect() as conn:
        if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp):
            return skip_unchanged(context, postgres, "SELECT count(*) FROM movrec.item_embeddings "
                                      "WHERE model_id = %s", (model_id,))
    item_ids, _ = _catalogue(postgres)
    data = InteractionData.from_ratings(read_frame(postgres, sqlfiles.load("movielens_ratings")), item_ids)
    started = time.perf_counter()
    matrix = truncated_svd_item_vectors(data, dims=SVD_DIMS)
    warm = np.linalg.norm(matrix, axis=1) > 0  # movies nobody rated get no vector (never a zero vector)
    keys = [str(int(i)) for i in item_ids[warm]]
    with postgres.connect() as conn:
        n = embedding_sync.replace_all_vectors(conn, "movielens", model_id, keys, matrix[warm], source, N_BUCKETS)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
        conn.commit()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n, "rebuilt": True, "dimensions": SVD_DIMS, "model_id": model_id,
        "movies_without_ratings": int((~warm).sum()), "fit_seconds": round(time.perf_counter() - started, 2),
    })


@dg.asset(
    deps=["movielens_ratings", "movielens_movie_embeddings"], group_name="recommendations",
    kinds={"postgres", "numpy", "scipy"}, automation_condition=DOWNSTREAM, **COMMON,
    description="Top-k unseen movies for every MovieLens user: EASE on recency- and rating-weighted history "
    "for rated movies, text vectors (ridge-mapped into the EASE score space) for cold movies; each pick "
    "explained by the three rated movies that contribute most.",
    metadata={"dagster/column_schema": column_schema([
        ("user_id", "integer"), ("rank", "smallint"), ("movie_id", "integer"), ("score", "real"),
        ("because_movie_ids", "integer[]"), ("explanation", "text"), ("method", "text"),
        ("generated_at", "timestamptz")])},
)
def movielens_user_recommendations(context: dg.AssetExecutionContext, postgres: PostgresResource,
                                   embedding: EmbeddingResource,
                                   tuning: RecommenderSettings) -> dg.MaterializeResult:
    model_id, dims = active_model(postgres, embedding)
    with postgres.connect() as conn:
        fp = fingerprints.combine(fingerprints.ratings(conn), fingerprints.vectors(conn, "movielens", model_id),
                                  tuning.k, tuning.ease_lambda, "hybrid-v1")
        if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp):
            return skip_unchanged(context, postgres, "SELECT count(*) FROM movrec.movielens_user_recommendations")
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
    item_ids, titles = _catalogue(postgres)
    data = InteractionData.from_ratings(read_frame(postgres, sqlfiles.load("movielens_ratings")), item_ids)
    started = time.perf_counter()
    text = movielens_recs.usable_text_vectors(movielens_recs.align_vectors(item_ids, keys, matrix, dims))
    model = _hybrid(tuning).fit(data, text)
    frame = movielens_recs.user_recommendations(model, data, titles, tuning.k)
    seconds = time.perf_counter() - started
    frame["method"] = model.name
    frame["generated_at"] = datetime.now(UTC)
    with postgres.connect() as conn, conn.transaction():
        replace_rows(conn, "movrec", "movielens_user_recommendations", frame)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
    sample = frame[frame["user_id"].isin(frame["user_id"].unique()[:2])].copy()
    sample["title"] = sample["movie_id"].map(titles)
    cold = set(item_ids[data.item_counts() == 0].tolist())
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame), "rebuilt": True, "users": int(frame["user_id"].nunique()),
        "k": tuning.k, "fit_and_rank_seconds": round(seconds, 2), "text_vectors_used": text is not None,
        "distinct_movies": int(frame["movie_id"].nunique()),
        "cold_movies_recommended": int(frame["movie_id"].isin(cold).sum()),
        "preview": dg.MetadataValue.md(markdown_table(sample[["user_id", "rank", "title", "explanation"]],
                                                      max_rows=12, max_chars=90)),
    })


@dg.asset(
    deps=[movielens_collaborative_vectors, "movielens_movie_embeddings", "movielens_vector_index"],
    group_name="recommendations", kinds={"pgvector", "numpy"}, automation_condition=DOWNSTREAM, **COMMON,
    description="For each MovieLens movie its nearest neighbours twice: by collaborative (SVD) vectors — "
    "'people who liked this also liked' — and by text vectors.",
    metadata={"dagster/column_schema": column_schema([
        ("movie_id", "integer"), ("source", "text"), ("rank", "smallint"), ("similar_movie_id", "integer"),
        ("similarity", "real")])},
)
def movielens_similar_movies(context: dg.AssetExecutionContext, postgres: PostgresResource,
                             embedding: EmbeddingResource, tuning: RecommenderSettings) -> dg.MaterializeResult:
    model_id, dims = active_model(postgres, embedding)
    svd_id = _svd_model_id(postgres)
    with postgres.connect() as conn:
        fp = fingerprints.combine(fingerprints.vectors(conn, "movielens", model_id),
                                  fingerprints.vectors(conn, "movielens", svd_id), tuning.similar_k)
        if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp):
            return skip_unchanged(context, postgres, "SELECT count(*) FROM movrec.movielens_similar_movies")
        text_keys, text_m = vectors.fetch_vectors(conn, "movielens", model_id, dims)
        svd_keys, svd_m = vectors.fetch_vectors(conn, "movielens", svd_id, SVD_DIMS)
    frame = pd.concat([movielens_recs.similar_items(svd_keys, svd_m, tuning.similar_k, "collaborative"),
                       movielens_recs.similar_items(text_keys, text_m, tuning.similar_k, "text")])
    with postgres.connect() as conn, conn.transaction():
        replace_rows(conn, "movrec", "movielens_similar_movies", frame)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
    _, titles = _catalogue(postgres)
    toy = frame[frame["movie_id"] == 1].copy()
    toy["similar"] = toy["similar_movie_id"].map(titles)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame), "rebuilt": True,
        "movies_collaborative": len(svd_keys), "movies_text": len(text_keys),
        "preview": dg.MetadataValue.md("Similar to *Toy Story*:\n\n" + markdown_table(
            toy[["source", "rank", "similar", "similarity"]], max_rows=20)),
    })


QUALITY_METHODS = ("hybrid", "popularity", "mean_profile_svd")


@dg.asset(
    deps=["movielens_ratings", "movielens_movie_embeddings"], group_name="recommendations",
    kinds={"numpy", "scipy"}, automation_condition=DOWNSTREAM, **COMMON,
    description="Offline evaluation on MovieLens, protocol T80 (per user the first 80 % of ratings by time "
    "train, the rest test): NDCG@10, Recall@20, HR@10, coverage@10, cold-movie Recall@20 of the project's "
    "method beside popularity and the seeds' mean-profile method.",
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
            last = read_frame(postgres, "SELECT * FROM movrec.recommendation_quality WHERE method = 'hybrid' "
                                        "ORDER BY evaluated_at DESC LIMIT 1")
            meta = {"rebuilt": False}
            if len(last):
                meta.update({"ndcg_at_10": float(last["ndcg_at_10"][0]), "hr_at_10": float(last["hr_at_10"][0])})
            return dg.MaterializeResult(metadata=meta)
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
    item_ids, _ = _catalogue(postgres)
    text = movielens_recs.usable_text_vectors(movielens_recs.align_vectors(item_ids, keys, matrix, dims))
    train, test = evaluation.t80_split(read_frame(postgres, sqlfiles.load("movielens_ratings")))
    methods = {"hybrid": _hybrid(tuning), "popularity": PopularityRecommender(),
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
        from movrec_pipeline.loaders.tables import copy_frame

        copy_frame(conn, "movrec", "recommendation_quality", rows)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
    best = results["hybrid"]
    metadata: dict = {"rebuilt": True, "users": int(best["users"]), "text_vectors_used": text is not None}
    for name, r in results.items():
        prefix = "" if name == "hybrid" else f"{name}_"
        metadata.update({f"{prefix}ndcg_at_10": round(float(r["ndcg@10"]), 4),
                         f"{prefix}recall_at_20": round(float(r["recall@20"]), 4),
                         f"{prefix}hr_at_10": round(float(r["hr@10"]), 4),
                         f"{prefix}coverage_at_10": round(float(r["coverage@10"]), 4),
                         f"{prefix}cold_recall_at_20": round(float(np.nan_to_num(r["cold_recall@20"])), 4)})
    metadata["table"] = dg.MetadataValue.md(markdown_table(rows.drop(columns=["evaluated_at"]).round(4)))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=recommendation_quality, name="ndcg_above_floor", blocking=True,
                description="The project's method keeps NDCG@10 (T80) at or above the configured floor.")
def ndcg_above_floor(postgres: PostgresResource, tuning: RecommenderSettings) -> dg.AssetCheckResult:
    last = read_frame(postgres, "SELECT ndcg_at_10, hr_at_10 FROM movrec.recommendation_quality "
                                "WHERE method = 'hybrid' ORDER BY evaluated_at DESC LIMIT 1")
    if last.empty:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no evaluation recorded"})
    ndcg = float(last["ndcg_at_10"][0])
    return dg.AssetCheckResult(passed=ndcg >= tuning.ndcg_floor,
                               metadata={"ndcg_at_10": round(ndcg, 4), "floor": tuning.ndcg_floor})


MOVIELENS_ASSETS = [movielens_collaborative_vectors, movielens_user_recommendations, movielens_similar_movies,
                    recommendation_quality]
MOVIELENS_CHECKS = [ndcg_above_floor]
