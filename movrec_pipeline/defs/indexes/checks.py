"""Blocking recall checks of the vector indexes: recall@10 against exact search on profile-like queries."""

import dagster as dg

from movrec_pipeline.defs.embeddings.registry import active_model
from movrec_pipeline.defs.indexes import recall
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderSettings


def _recall_check(kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=f"{kind}_vector_index", name=f"{kind}_index_recall", blocking=True,
                    description="recall@10 of the index against exact search on sampled profile-like queries.")
    def _recall(postgres: PostgresResource, embedding: EmbeddingResource,
                tuning: RecommenderSettings) -> dg.AssetCheckResult:
        model_id, dims = active_model(postgres, embedding)
        with postgres.connect(autocommit=True) as conn:
            result = recall.measure_recall(conn, kind, model_id, dims, n_queries=tuning.index_recall_queries,
                                                  ef_search=tuning.hnsw_ef_search, probes=tuning.ivfflat_probes)
        passed = result["queries"] == 0 or (result["recall"] >= tuning.index_recall_floor and result["uses_index"])
        return dg.AssetCheckResult(passed=passed, metadata={
            "recall_at_10": round(result["recall"], 4), "p50_latency_ms": round(result["p50_ms"], 3),
            "p95_latency_ms": round(result["p95_ms"], 3), "queries": result["queries"],
            "uses_index": result["uses_index"], "floor": tuning.index_recall_floor,
        })

    return _recall


film_index_recall = _recall_check("film")
netflix_index_recall = _recall_check("netflix")
movielens_index_recall = _recall_check("movielens")
