"""MovieLens recommendation tables: top-k unseen movies for every user, and similar-movie lists."""

import time
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd

from movrec_pipeline.defs import versions
from movrec_pipeline.defs.metadata import column_schema, preview
from movrec_pipeline.defs.partitions import BACKFILL_POLICY, N_BUCKETS, USER_BUCKETS, buckets_of
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.recommendations.selection import MODEL_SELECTION
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderResource
from movrec_pipeline.ranking import baselines, selection, user_lists
from movrec_pipeline.ranking.hybrid import HybridRecommender
from movrec_pipeline.warehouse import artifacts, fingerprints, movielens, selections, sqlfiles, vectors
from movrec_pipeline.warehouse.embedding_models import SVD_DIMS
from movrec_pipeline.warehouse.tables import copy_frame, replace_rows

COMMON = dict(owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, code_version="2")


ITEM_MODEL = "movielens_item_model"


@dg.asset(
    deps=[MODEL_SELECTION, "recommendation_quality", "movielens_ratings", "movielens_movie_embeddings",
          "movielens_vector_index"], group_name="recommendations",
    kinds={"postgres", "numpy", "scipy"}, automation_condition=DOWNSTREAM, **COMMON,
    description="The item side of the served recommender, fitted once on every rating with the settings "
    f"`{MODEL_SELECTION}` chose: EASE on the {baselines.HEAD_ITEMS:,} most-rated movies (a dense head x head "
    "model), text ridge maps for the others, the calibrated merge of the two; stored in `movrec.model_artifacts` "
    "for whichever worker scores users with it. Downstream of the evaluation: a blocking quality check that fails "
    "keeps yesterday's lists.",
)
def movielens_item_model(context: dg.AssetExecutionContext, postgres: PostgresResource,
                         embedding: EmbeddingResource) -> dg.MaterializeResult:
    model_id, dims = embedding.active_model(postgres)
    version = versions.inputs_version(context, postgres, model_id, baselines.HEAD_ITEMS)
    with postgres.connect() as conn:
        if versions.unchanged(context, version) and artifacts.fingerprint_of(conn, ITEM_MODEL) == version:
            return versions.kept(context, version, None)
        keys, matrix = vectors.fetch_vectors(conn, "movielens", model_id, dims)
        item_ids, _ = movielens.catalogue(conn)
        data = movielens.interactions(conn, item_ids)
        chosen = selections.latest(conn) or selection.default_selection()
    started = time.perf_counter()
    text = user_lists.usable_text_vectors(user_lists.align_vectors(item_ids, keys, matrix, dims))
    model = chosen.apply(chosen.hybrid(baselines.HEAD_ITEMS).fit_items(data, text))
    fit_seconds = time.perf_counter() - started
    arrays, meta = model.item_arrays()
    counts = data.item_counts()
    with postgres.connect() as conn:
        stored = artifacts.save(conn, ITEM_MODEL, version, arrays, {**meta, "item_ids": item_ids.tolist()})
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "rebuilt": True, "head_items": len(model.active_),
        "head_share_of_ratings": round(float(counts[model.active_].sum() / max(counts.sum(), 1)), 4),
        "text_scored_items": len(model.cold_), "fit_seconds": round(fit_seconds, 1), "stored_bytes": stored,
        "text_vectors_used": text is not None, "users": data.n_users, "ratings": int(data.matrix.nnz),
        "settings": dg.MetadataValue.json(chosen.settings), "calibrated_merge": model.calibration_ is not None})


@dg.asset(
    deps=[movielens_item_model, "movielens_ratings"], group_name="recommendations", partitions_def=USER_BUCKETS,
    backfill_policy=BACKFILL_POLICY, kinds={"postgres", "numpy", "scipy"},
    automation_condition=DOWNSTREAM, **COMMON,
    description="Top-k unseen movies for every MovieLens user, scored with the stored item model (fitted once), "
    "one partition per user bucket (user_id modulo 32): a range run scores its "
    "buckets together, a multi-run backfill spreads them over runs and workers. Each pick explained by the "
    "three rated movies that contribute most.",
    metadata={"dagster/column_schema": column_schema([
        ("user_id", "integer"), ("rank", "smallint"), ("movie_id", "integer"), ("score", "real"),
        ("because_movie_ids", "integer[]"), ("explanation", "text"), ("method", "text"),
        ("generated_at", "timestamptz")])},
)
def movielens_user_recommendations(context: dg.AssetExecutionContext, postgres: PostgresResource,
                                   recommender: RecommenderResource) -> dg.MaterializeResult:
    buckets = buckets_of(context)
    version = versions.inputs_version(context, postgres, recommender.k, N_BUCKETS)
    todo = [b for b in buckets if not versions.unchanged(context, version, partition=f"b{b:02d}")]
    started = time.perf_counter()
    frame = pd.DataFrame(columns=["user_id"])
    if todo:
        with postgres.connect() as conn:
            _, arrays, meta = artifacts.load(conn, ITEM_MODEL)
            _, titles = movielens.catalogue(conn)
            data = movielens.interactions(conn, np.asarray(meta["item_ids"]), user_buckets=(N_BUCKETS, todo))
        model = HybridRecommender.from_item_arrays(arrays, meta)
        frame = user_lists.user_recommendations(model, data, titles, recommender.k, users=model.encode(data),
                                                     groups=data.user_ids % N_BUCKETS)
        frame["method"] = model.name
        frame["generated_at"] = datetime.now(UTC)
        with postgres.connect() as conn, conn.transaction():
            conn.execute(sqlfiles.load("recommendations/delete_user_recs"), {"n": N_BUCKETS, "buckets": todo})
            copy_frame(conn, "movrec", "movielens_user_recommendations", frame)
            for b in todo:
                fingerprints.record(conn, f"{context.asset_key.to_user_string()}/b{b:02d}", version)
    with postgres.connect() as conn:
        stored = dict(conn.execute(sqlfiles.load("recommendations/user_recs_per_bucket"),
                                   {"n": N_BUCKETS, "buckets": buckets}).fetchall())
    for b in buckets:
        context.add_asset_metadata({"dagster/row_count": int(stored.get(b, 0)), "rebuilt": b in todo},
                                   partition_key=f"b{b:02d}")
    context.log.info("user buckets rebuilt: %s of %s", len(todo), len(buckets))
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "run_buckets": len(buckets), "run_buckets_rebuilt": len(todo), "run_rows": len(frame),
        "run_users": int(frame["user_id"].nunique()) if len(frame) else 0, "k": recommender.k,
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
                             embedding: EmbeddingResource, recommender: RecommenderResource) -> dg.MaterializeResult:
    model_id, dims = embedding.active_model(postgres)
    svd_id = postgres.collaborative_model_id()
    version = versions.inputs_version(context, postgres, model_id, recommender.similar_k)
    if versions.unchanged(context, version):
        return versions.kept(context, version, postgres.count_rows("movrec.movielens_similar_movies"))
    with postgres.connect() as conn:
        text_keys, text_m = vectors.fetch_vectors(conn, "movielens", model_id, dims)
        svd_keys, svd_m = vectors.fetch_vectors(conn, "movielens", svd_id, SVD_DIMS)
    frame = pd.concat([user_lists.similar_items(svd_keys, svd_m, recommender.similar_k, "collaborative"),
                       user_lists.similar_items(text_keys, text_m, recommender.similar_k, "text")])
    with postgres.connect() as conn, conn.transaction():
        replace_rows(conn, "movrec", "movielens_similar_movies", frame)
        fingerprints.record(conn, context.asset_key.to_user_string(), version)
        _, titles = movielens.catalogue(conn)
    toy = frame[frame["movie_id"] == 1].copy()
    toy["similar"] = toy["similar_movie_id"].map(titles)
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": len(frame), "rebuilt": True,
        "movies_collaborative": len(svd_keys), "movies_text": len(text_keys),
        "preview": preview(toy[["source", "rank", "similar", "similarity"]], max_rows=20,
                           title="Similar to *Toy Story*:"),
    })


