"""Vector index assets: HNSW or IVFFlat per item kind and model, tuned to the recall floor on the loaded vectors,
rebuilt only when the vectors (or the index settings) change."""

import dagster as dg

from movrec_pipeline.defs import versions
from movrec_pipeline.defs.failures import movrec_errors_as_failures
from movrec_pipeline.defs.metadata import column_schema
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import EmbeddingResource, IndexResource, PostgresResource
from movrec_pipeline.warehouse import fingerprints, index_tuning, sqlfiles, vector_index
from movrec_pipeline.warehouse.index_build import IndexSpec

GROUP = "indexes"


def _index_asset(kind: str, upstream: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{kind}_vector_index", deps=[upstream], group_name=GROUP, kinds={"pgvector", "postgres"},
        owners=OWNERS, code_version="3", pool=DB_POOL, retry_policy=DB_RETRY, automation_condition=DOWNSTREAM,
        description=f"Cosine-distance {kind} index (HNSW by default, IVFFlat as option) on the active model's "
        "vectors: a partial expression index built CONCURRENTLY, then tuned on the loaded vectors — the search "
        "depth rises (denser rebuilds if needed) until recall@10 against exact search meets the floor within the "
        "latency bound; the choice is recorded in `movrec.vector_index_settings` and set by every query path "
        "(exact search there when no setting reaches the floor).",
        metadata={"dagster/column_schema": column_schema([
            ("index_name", "text"), ("method", "hnsw | ivfflat"), ("expression", "embedding::vector(d)"),
            ("opclass", "vector_cosine_ops"), ("predicate", "item_kind and model_id")])},
    )
    def _asset(context: dg.AssetExecutionContext, postgres: PostgresResource, embedding: EmbeddingResource,
               index_settings: IndexResource) -> dg.MaterializeResult:
        model_id, dims = embedding.active_model(postgres)
        spec = IndexSpec(method=index_settings.method, m=index_settings.hnsw_m,
                         ef_construction=index_settings.hnsw_ef_construction, lists=index_settings.ivfflat_lists)
        version = versions.inputs_version(context, postgres, model_id, spec, index_settings.recall_floor,
                                          index_settings.max_p95_ms, index_settings.recall_queries)
        with postgres.connect(autocommit=True) as conn:
            if versions.unchanged(context, version) and vector_index.current_index(conn, kind, model_id):
                rows = conn.execute(sqlfiles.load("indexes/vector_count"), {"kind": kind, "model_id": model_id})
                return versions.kept(context, version, rows.fetchone()[0])
            with movrec_errors_as_failures():
                tuned = index_tuning.tune(conn, kind, model_id, dims, spec, floor=index_settings.recall_floor,
                                          max_p95_ms=index_settings.max_p95_ms,
                                          n_queries=index_settings.recall_queries, log=context.log.info)
            with conn.transaction():
                index_tuning.record(conn, kind, model_id, tuned)
                fingerprints.record(conn, context.asset_key.to_user_string(), version)
            rows = conn.execute(sqlfiles.load("indexes/vector_count"), {"kind": kind, "model_id": model_id})
            count = rows.fetchone()[0]
        (context.log.warning if tuned.exact_fallback else context.log.info)("%s index: %s", kind, tuned.summary())
        return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
            "dagster/row_count": count, "rebuilt": True, "index_name": tuned.index_name, "method": tuned.method,
            **tuned.chosen.build, "ef_search": tuned.chosen.ef_search or 0, "probes": tuned.chosen.probes or 0,
            "recall_at_10": round(tuned.chosen.recall, 4), "p50_latency_ms": round(tuned.chosen.p50_ms, 2),
            "p95_latency_ms": round(tuned.chosen.p95_ms, 2), "recall_floor": tuned.floor,
            "exact_fallback": tuned.exact_fallback, "dropped": tuned.dropped,
            "build_seconds": tuned.build_seconds, "rebuilds": tuned.rebuilds, "settings_tried": len(tuned.trials),
            "tuning": tuned.summary(), "model_id": model_id, "dimensions": dims,
        })

    return _asset


film_vector_index = _index_asset("film", "film_embeddings")
netflix_vector_index = _index_asset("netflix", "netflix_embeddings")
movielens_vector_index = _index_asset("movielens", "movielens_movie_embeddings")
