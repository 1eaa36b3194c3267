"""Collaborative item vectors: a truncated SVD of the MovieLens ratings, beside the text vectors."""

import time

import dagster as dg
import numpy as np

from movrec_pipeline.defs import versions
from movrec_pipeline.defs.metadata import column_schema
from movrec_pipeline.defs.partitions import N_BUCKETS
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import PostgresResource
from movrec_pipeline.embedders import sync
from movrec_pipeline.ranking.svd import truncated_svd_item_vectors
from movrec_pipeline.warehouse import fingerprints, movielens, sqlfiles
from movrec_pipeline.warehouse.embedding_models import COLLABORATIVE, SVD_DIMS


@dg.asset(
    deps=["movielens_ratings", "movielens_movies"], group_name="embeddings", kinds={"pgvector", "scipy"},
    automation_condition=DOWNSTREAM, owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, code_version="2",
    description="Collaborative item vectors from the MovieLens ratings matrix (truncated SVD), "
    "stored beside the text vectors as model `truncated-svd-64`; rebuilt when the ratings change.",
    metadata={"dagster/column_schema": column_schema([
        ("item_kind", "text"), ("model_id", "integer"), ("item_key", "text"), ("text_hash", "text"),
        ("embedding", "vector(64)"), ("embedded_at", "timestamptz")])},
)
def movielens_collaborative_vectors(context: dg.AssetExecutionContext,
                                    postgres: PostgresResource) -> dg.MaterializeResult:
    model_id = postgres.collaborative_model_id()
    version = versions.inputs_version(context, postgres, COLLABORATIVE)
    if versions.unchanged(context, version):
        rows = postgres.read_frame(sqlfiles.load("embeddings/count_model"), (model_id,)).iloc[0, 0]
        return versions.kept(context, version, rows)
    with postgres.connect() as conn:
        item_ids, _ = movielens.catalogue(conn)
        data = movielens.interactions(conn, item_ids)
    started = time.perf_counter()
    matrix = truncated_svd_item_vectors(data, dims=SVD_DIMS)
    warm = np.linalg.norm(matrix, axis=1) > 0  # movies nobody rated get no vector (never a zero vector)
    keys = [str(int(i)) for i in item_ids[warm]]
    with postgres.connect() as conn:
        n = sync.replace_all_vectors(conn, "movielens", model_id, keys, matrix[warm], version[:32], N_BUCKETS)
        fingerprints.record(conn, context.asset_key.to_user_string(), version)
        conn.commit()
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": n, "rebuilt": True, "dimensions": SVD_DIMS, "model_id": model_id,
        "movies_without_ratings": int((~warm).sum()), "fit_seconds": round(time.perf_counter() - started, 2),
    })
