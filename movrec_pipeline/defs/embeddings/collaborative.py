"""Collaborative item vectors: a truncated SVD of the MovieLens ratings (seed 004), beside the text vectors."""

import time

import dagster as dg
import numpy as np

from movrec_pipeline.defs.embeddings import registry, sync
from movrec_pipeline.defs.embeddings.partitions import N_BUCKETS
from movrec_pipeline.defs.metadata import column_schema, kept_as_is
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import PostgresResource
from movrec_pipeline.defs.sources import movielens_reads
from movrec_pipeline.ranking.svd import truncated_svd_item_vectors
from movrec_pipeline.warehouse import fingerprints, sqlfiles

SVD_DIMS = 64
SVD_MODEL = ("svd", f"truncated-svd-{SVD_DIMS}", SVD_DIMS, "ratings")  # registry entry (provider, model, d, template)


def svd_model_id(postgres: PostgresResource) -> int:
    with postgres.connect() as conn:
        return registry.register_model(conn, *SVD_MODEL)


@dg.asset(
    deps=["movielens_ratings", "movielens_movies"], group_name="embeddings", kinds={"pgvector", "scipy"},
    automation_condition=DOWNSTREAM, owners=OWNERS, retry_policy=DB_RETRY, pool=DB_POOL, code_version="1",
    description="Collaborative item vectors from the MovieLens ratings matrix (truncated SVD, as in seed 004), "
    "stored beside the text vectors as model `truncated-svd-64`; rebuilt when the ratings change.",
    metadata={"dagster/column_schema": column_schema([
        ("item_kind", "text"), ("model_id", "integer"), ("item_key", "text"), ("text_hash", "text"),
        ("embedding", "vector(64)"), ("embedded_at", "timestamptz")])},
)
def movielens_collaborative_vectors(context: dg.AssetExecutionContext,
                                    postgres: PostgresResource) -> dg.MaterializeResult:
    model_id = svd_model_id(postgres)
    with postgres.connect() as conn:
        source = fingerprints.ratings(conn)
        fp = fingerprints.combine(source, SVD_MODEL)
        if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp):
            return kept_as_is(context, conn.execute(sqlfiles.load("embeddings/count_model"), (model_id,)).fetchone()[0])
    item_ids, _ = movielens_reads.catalogue(postgres)
    data = movielens_reads.interactions(postgres, item_ids)
    started = time.perf_counter()
    matrix = truncated_svd_item_vectors(data, dims=SVD_DIMS)
    warm = np.linalg.norm(matrix, axis=1) > 0  # movies nobody rated get no vector (never a zero vector)
    keys = [str(int(i)) for i in item_ids[warm]]
    with postgres.connect() as conn:
        n = sync.replace_all_vectors(conn, "movielens", model_id, keys, matrix[warm], source, N_BUCKETS)
        fingerprints.record(conn, context.asset_key.to_user_string(), fp)
        conn.commit()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": n, "rebuilt": True, "dimensions": SVD_DIMS, "model_id": model_id,
        "movies_without_ratings": int((~warm).sum()), "fit_seconds": round(time.perf_counter() - started, 2),
    })
