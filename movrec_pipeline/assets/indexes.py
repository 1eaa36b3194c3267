"""Vector index assets (HNSW or IVFFlat per item kind and model) with blocking recall checks."""

import dagster as dg

from movrec_pipeline import fingerprints, index_quality, vector_index
from movrec_pipeline.assets.common import (
    DB_POOL,
    DB_RETRY,
    DOWNSTREAM,
    OWNERS,
    column_schema,
    permanent_errors,
    skip_unchanged,
)
from movrec_pipeline.assets.embeddings import active_model
from movrec_pipeline.resources import EmbeddingResource, PostgresResource, RecommenderSettings

GROUP = "indexes"
INDEXED = {"film": "film_embeddings", "netflix": "netflix_embeddings", "movielens": "movielens_movie_embeddings"}


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
        spec = vector_index.IndexSpec(method=tuning.index_method, m=tuning.hnsw_m,
                                      ef_construction=tuning.hnsw_ef_construction, lists=tuning.ivfflat_lists)
        with postgres.connect(autocommit=True) as conn:
            fp = fingerprints.combine(fingerprints.vectors(conn, kind, model_id), spec)
            if fingerprints.is_current(conn, context.asset_key.to_user_string(), fp) and vector_index.current_index(
                    conn, kind, model_id):
                return skip_unchanged(context, postgres, "SELECT count(*) FROM movrec.item_embeddings "
                                      "WHERE item_kind = %s AND model_id = %s", (kind, model_id))
            with permanent_errors():
                info = vector_index.build_index(conn, kind, model_id, dims, spec)
            fingerprints.record(conn, context.asset_key.to_user_string(), fp)
        context.log.info("%s index: %s", kind, info)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": info["rows"], "rebuilt": True, **info, "model_id": model_id, "dimensions": dims,
            "ef_search": tuning.hnsw_ef_search, "probes": tuning.ivfflat_probes,
        })

    @dg.asset_check(asset=_asset, name=f"{kind}_index_recall", blocking=True,
                    description="recall@10 of the index against exact search on sampled profile-like queries.")
    def _recall(postgres: PostgresResource, embedding: EmbeddingResource,
                tuning: RecommenderSettings) -> dg.AssetCheckResult:
        model_id, dims = active_model(postgres, embedding)
        with postgres.connect(autocommit=True) as conn:
            result = index_quality.measure_recall(conn, kind, model_id, dims, n_queries=tuning.index_recall_queries,
                                                  ef_search=tuning.hnsw_ef_search, probes=tuning.ivfflat_probes)
        passed = result["queries"] == 0 or (result["recall"] >= tuning.index_recall_floor and result["uses_index"])
        return dg.AssetCheckResult(passed=passed, metadata={
            "recall_at_10": round(result["recall"], 4), "p50_latency_ms": round(result["p50_ms"], 3),
            "p95_latency_ms": round(result["p95_ms"], 3), "queries": result["queries"],
            "uses_index": result["uses_index"], "floor": tuning.index_recall_floor,
        })

    return _asset, _recall


_BUILT = {kind: _index_asset(kind, upstream) for kind, upstream in INDEXED.items()}
INDEX_ASSETS = [a for a, _ in _BUILT.values()]
INDEX_CHECKS = [c for _, c in _BUILT.values()]
