"""Vector index assets: HNSW or IVFFlat per item kind and model, rebuilt only when the vectors change."""

import dagster as dg

from movrec_pipeline.defs.embeddings.registry import active_model
from movrec_pipeline.defs.failures import permanent_errors
from movrec_pipeline.defs.indexes import build
from movrec_pipeline.defs.metadata import column_schema, kept_as_is
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderSettings
from movrec_pipeline.warehouse import fingerprints, sqlfiles, vector_index

GROUP = "indexes"


def _index_asset(kind: str, upstream: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{kind}_vector_index", deps=[upstream], group_name=GROUP, kinds={"pgvector", "postgres"},
        owners=OWNERS, code_version="1", pool=DB_POOL, retry_policy=DB_RETRY, automation_condition=DOWNSTREAM,
        description=f"Cosine-distance {kind} index (HNSW by default, IVFFlat as option) on the active model's "
        "vectors: a partial expression index built CONCURRENTLY, the previous one dropped after.",
        metadata={"dagster/column_schema": column_schema([
            ("index_name", "text"), ("method", "hnsw | ivfflat"), ("expression", "embedding::vector(d)"),
            ("opclass", "vector_cosine_ops"), ("predicate", "item_kind and model_id")])},
    )
    def _asset(context: dg.AssetExecutionContext, postgres: PostgresResource, embedding: EmbeddingResource,
               tuning: RecommenderSettings) -> dg.MaterializeResult:
        model_id, dims = active_model(postgres, embedding)
        spec = build.IndexSpec(method=tuning.index_method, m=tuning.hnsw_m,
                               ef_construction=tuning.hnsw_ef_construction, lists=tuning.ivfflat_lists)
        with postgres.connect(autocommit=True) as conn:
            fp = fingerprints.combine(fingerprints.vectors(conn, kind, model_id), spec)
            if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp) and vector_index.current_index(
                    conn, kind, model_id):
                rows = conn.execute(sqlfiles.load("indexes/vector_count"), {"kind": kind, "model_id": model_id})
                return kept_as_is(context, rows.fetchone()[0])
            with permanent_errors():
                info = build.build_index(conn, kind, model_id, dims, spec)
            fingerprints.record(conn, context.asset_key.to_user_string(), fp)
        context.log.info("%s index: %s", kind, info)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": info["rows"], "rebuilt": True, **info, "model_id": model_id, "dimensions": dims,
            "ef_search": tuning.hnsw_ef_search, "probes": tuning.ivfflat_probes,
        })

    return _asset


film_vector_index = _index_asset("film", "film_embeddings")
netflix_vector_index = _index_asset("netflix", "netflix_embeddings")
movielens_vector_index = _index_asset("movielens", "movielens_movie_embeddings")
