"""MovieLens recommendation tables: top-k unseen movies for every user, and similar-movie lists."""

import time
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from movrec_pipeline.defs.embeddings.collaborative import SVD_DIMS, svd_model_id
from movrec_pipeline.defs.embeddings.registry import active_model
from movrec_pipeline.defs.metadata import column_schema, kept_as_is, preview
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.recommendations import movielens_lists
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderSettings
from movrec_pipeline.defs.sources import movielens_reads
from movrec_pipeline.warehouse import fingerprints, vectors
from movrec_pipeline.warehouse.tables import replace_rows

COMMON = dict(owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, code_version="1")


@dg.asset(
    deps=["movielens_ratings", "movielens_movie_embeddings", "movielens_vector_index"], group_name="recommendations",
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
            return kept_as_is(context, postgres.count_rows("movrec.movielens_user_recommendations"))
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
    item_ids, titles = movielens_reads.catalogue(postgres)
    data = movielens_reads.interactions(postgres, item_ids)
    started = time.perf_counter()
    text = movielens_lists.usable_text_vectors(movielens_lists.align_vectors(item_ids, keys, matrix, dims))
    model = movielens_lists.hybrid(tuning.ease_lambda).fit(data, text)
    frame = movielens_lists.user_recommendations(model, data, titles, tuning.k)
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
        "preview": preview(sample[["user_id", "rank", "title", "explanation"]], max_rows=12, max_chars=90),
    })


@dg.asset(
    deps=["movielens_collaborative_vectors", "movielens_movie_embeddings", "movielens_vector_index"],
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
    svd_id = svd_model_id(postgres)
    with postgres.connect() as conn:
        fp = fingerprints.combine(fingerprints.vectors(conn, "movielens", model_id),
                                  fingerprints.vectors(conn, "movielens", svd_id), tuning.similar_k)
        if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp):
            return kept_as_is(context, postgres.count_rows("movrec.movielens_similar_movies"))
        text_keys, text_m = vectors.fetch_vectors(conn, "movielens", model_id, dims)
        svd_keys, svd_m = vectors.fetch_vectors(conn, "movielens", svd_id, SVD_DIMS)
    frame = pd.concat([movielens_lists.similar_items(svd_keys, svd_m, tuning.similar_k, "collaborative"),
                       movielens_lists.similar_items(text_keys, text_m, tuning.similar_k, "text")])
    with postgres.connect() as conn, conn.transaction():
        replace_rows(conn, "movrec", "movielens_similar_movies", frame)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
    _, titles = movielens_reads.catalogue(postgres)
    toy = frame[frame["movie_id"] == 1].copy()
    toy["similar"] = toy["similar_movie_id"].map(titles)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame), "rebuilt": True,
        "movies_collaborative": len(svd_keys), "movies_text": len(text_keys),
        "preview": preview(toy[["source", "rank", "similar", "similarity"]], max_rows=20,
                           title="Similar to *Toy Story*:"),
    })


