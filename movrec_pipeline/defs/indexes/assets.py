"""Vector index assets: HNSW or IVFFlat per item kind and model, tuned to the recall floor on the loaded vectors,
rebuilt only when the vectors (or the index settings) change."""

import dagster as dg

from movrec_pipeline.defs import versions
from movrec_pipeline.defs.failures import movrec_errors_as_failures
from movrec_pipeline.defs.metadata import column_schema
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, DOWNSTREAM, OWNERS
from movrec_pipeline.defs.resources import EmbeddingResource, IndexResource, PostgresResource
from movrec_pipeline.warehouse import fingerprints, index_tuning, sqlfiles, vector_index
from movrec_pipeline.warehouse.embedding_models import SVD_DIMS
from movrec_pipeline.warehouse.index_build import IndexSpec

GROUP = "indexes"


def index_asset_name(kind: str, collaborative: bool = False) -> str:
    return f"{kind}_{'collaborative_' if collaborative else ''}vector_index"


def indexed_model(postgres: PostgresResource, embedding: EmbeddingResource, collaborative: bool) -> tuple[int, int]:
    """(model id, dimensions) of the vectors an index asset covers: the collaborative SVD model's or the text's."""
    return (postgres.collaborative_model_id(), SVD_DIMS) if collaborative else embedding.active_model(postgres)


def _index_asset(kind: str, upstream: str, *, collaborative: bool = False) -> dg.AssetsDefinition:
    @dg.asset(
        name=index_asset_name(kind, collaborative), deps=[upstream], group_name=GROUP, kinds={"pgvector", "postgres"},
        owners=OWNERS, code_version="3", pool=DB_POOL, retry_policy=DB_RETRY, automation_condition=DOWNSTREAM,
        description=f"Cosine-distance {kind} index (HNSW by default, IVFFlat as option) on the "
        f"{'collaborative (SVD)' if collaborative else 'active text model'} vectors: a partial expression index built "
        "CONCURRENTLY, then tuned on the loaded vectors — the search depth rises (denser rebuilds if needed) until "
        "recall@10 against exact search meets the floor within the latency bound; the choice is recorded in "
        "`movrec.vector_index_settings` and set by every query path (exact search when no setting reaches it).",
        metadata={"dagster/column_schema": column_schema([
            ("index_name", "text"), ("method", "hnsw | ivfflat"), ("expression", "embedding::vector(d)"),
            ("opclass", "vector_cosine_ops"), ("predicate", "item_kind and model_id")])},
    )
    def _asset(context: dg.AssetExecutionContext, postgres: PostgresResource, embedding: EmbeddingResource,
               index_settings: IndexResource) -> dg.MaterializeResult:
        model_id, dims = indexed_model(postgres, embedding, collaborative)
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
        log = context.log.warning if tuned.exact_fallback else context.log.info
        log("%s: %s", context.asset_key.to_user_string(), tuned.summary())
        return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
            "dagster/row_count": count, "rebuilt": True, **tuned.metadata(), "model_id": model_id, "dimensions": dims})

    return _asset


film_vector_index = _index_asset("film", "film_embeddings")
netflix_vector_index = _index_asset("netflix", "netflix_embeddings")
movielens_vector_index = _index_asset("movielens", "movielens_movie_embeddings")
movielens_collaborative_vector_index = _index_asset("movielens", "movielens_collaborative_vectors",
                                                    collaborative=True)
