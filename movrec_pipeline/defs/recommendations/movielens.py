"""MovieLens recommendation tables: top-k unseen movies for every user, and similar-movie lists."""

import time
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd

from movrec_pipeline.defs.embeddings.collaborative import SVD_DIMS, svd_model_id
from movrec_pipeline.defs.embeddings.partitions import BACKFILL_POLICY, BUCKETS, N_BUCKETS, bucket_index
from movrec_pipeline.defs.embeddings.registry import active_model
from movrec_pipeline.defs.metadata import column_schema, kept_as_is, preview
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.recommendations import movielens_lists
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderSettings
from movrec_pipeline.defs.sources import movielens_reads
from movrec_pipeline.ranking import baselines
from movrec_pipeline.ranking.hybrid import HybridRecommender
from movrec_pipeline.warehouse import artifacts, fingerprints, sqlfiles, vectors
from movrec_pipeline.warehouse.tables import copy_frame, replace_rows

COMMON = dict(owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, code_version="1")


ITEM_MODEL = "movielens_item_model"


@dg.asset(
    deps=["movielens_ratings", "movielens_movie_embeddings", "movielens_vector_index"], group_name="recommendations",
    kinds={"postgres", "numpy", "scipy"}, automation_condition=DOWNSTREAM, **COMMON,
    description="The item side of the project's recommender, fitted once on every rating: EASE on the "
    f"{movielens_lists.HEAD_ITEMS:,} most-rated movies (a dense head x head model), text ridge maps for the others; "
    "stored in `movrec.model_artifacts` for whichever worker scores users with it.",
)
def movielens_item_model(context: dg.AssetExecutionContext, postgres: PostgresResource, embedding: EmbeddingResource,
                         tuning: RecommenderSettings) -> dg.MaterializeResult:
    model_id, dims = active_model(postgres, embedding)
    with postgres.connect() as conn:
        fp = fingerprints.combine(fingerprints.ratings(conn), fingerprints.vectors(conn, "movielens", model_id),
                                  tuning.ease_lambda, movielens_lists.HEAD_ITEMS, baselines.TUNED_HYBRID, "hybrid-v2")
        if artifacts.fingerprint_of(conn, ITEM_MODEL) == fp:
            return dg.MaterializeResult(metadata={"rebuilt": False, "fingerprint": fp[:12]})
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
    item_ids, _ = movielens_reads.catalogue(postgres)
    data = movielens_reads.interactions(postgres, item_ids)
    started = time.perf_counter()
    text = movielens_lists.usable_text_vectors(movielens_lists.align_vectors(item_ids, keys, matrix, dims))
    model = movielens_lists.hybrid(tuning.ease_lambda).fit_items(data, text)
    fit_seconds = time.perf_counter() - started
    arrays, meta = model.item_arrays()
    counts = data.item_counts()
    with postgres.connect() as conn:
        stored = artifacts.save(conn, ITEM_MODEL, fp, arrays, {**meta, "item_ids": item_ids.tolist()})
    return dg.MaterializeResult(metadata={
        "rebuilt": True, "fingerprint": fp[:12], "head_items": len(model.active_),
        "head_share_of_ratings": round(float(counts[model.active_].sum() / max(counts.sum(), 1)), 4),
        "text_scored_items": len(model.cold_), "fit_seconds": round(fit_seconds, 1), "stored_bytes": stored,
        "text_vectors_used": text is not None, "users": data.n_users, "ratings": int(data.matrix.nnz)})


@dg.asset(
    deps=[movielens_item_model, "movielens_ratings"], group_name="recommendations", partitions_def=BUCKETS,
    backfill_policy=BACKFILL_POLICY, kinds={"postgres", "numpy", "scipy"},
    automation_condition=DOWNSTREAM, **COMMON,
    description="Top-k unseen movies for every MovieLens user, scored with the stored item model (fitted once), "
    "one partition per user bucket (user_id modulo 32, the embedding assets' buckets): a range run scores its "
    "buckets together, a multi-run backfill spreads them over runs and workers. Each pick explained by the "
    "three rated movies that contribute most.",
    metadata={"dagster/column_schema": column_schema([
        ("user_id", "integer"), ("rank", "smallint"), ("movie_id", "integer"), ("score", "real"),
        ("because_movie_ids", "integer[]"), ("explanation", "text"), ("method", "text"),
        ("generated_at", "timestamptz")])},
)
def movielens_user_recommendations(context: dg.AssetExecutionContext, postgres: PostgresResource,
                                   tuning: RecommenderSettings) -> dg.MaterializeResult:
    buckets = sorted(bucket_index(k) for k in context.partition_keys)
    with postgres.connect() as conn:
        model_fp, arrays, meta = artifacts.load(conn, ITEM_MODEL)
        fp = fingerprints.combine(model_fp, fingerprints.ratings(conn), tuning.k, N_BUCKETS)
        states = {b: f"{context.asset_key.to_user_string()}/b{b:02d}" for b in buckets}
        todo = [b for b in buckets if not fingerprints.is_current(conn, states[b], fp)]
    started = time.perf_counter()
    frame = pd.DataFrame(columns=["user_id"])
    if todo:
        model = HybridRecommender.from_item_arrays(arrays, meta)
        _, titles = movielens_reads.catalogue(postgres)
        data = movielens_reads.interactions(postgres, np.asarray(meta["item_ids"]), user_buckets=(N_BUCKETS, todo))
        frame = movielens_lists.user_recommendations(model, data, titles, tuning.k, users=model.encode(data),
                                                     groups=data.user_ids % N_BUCKETS)
        frame["method"] = model.name
        frame["generated_at"] = datetime.now(UTC)
        with postgres.connect() as conn, conn.transaction():
            conn.execute(sqlfiles.load("recommendations/delete_user_recs"), {"n": N_BUCKETS, "buckets": todo})
            copy_frame(conn, "movrec", "movielens_user_recommendations", frame)
            for b in todo:
                fingerprints.record(conn, states[b], fp)
    with postgres.connect() as conn:
        stored = dict(conn.execute(sqlfiles.load("recommendations/user_recs_per_bucket"),
                                   {"n": N_BUCKETS, "buckets": buckets}).fetchall())
    for b in buckets:
        context.add_asset_metadata({"dagster/row_count": int(stored.get(b, 0)), "rebuilt": b in todo},
                                   partition_key=f"b{b:02d}")
    context.log.info("user buckets rebuilt: %s of %s", len(todo), len(buckets))
    return dg.MaterializeResult(metadata={
        "run_buckets": len(buckets), "run_buckets_rebuilt": len(todo), "run_rows": len(frame),
        "run_users": int(frame["user_id"].nunique()) if len(frame) else 0, "k": tuning.k,
        "score_seconds": round(time.perf_counter() - started, 1)})


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


