"""Blocking recall checks of the vector indexes: recall@10 against exact search on profile-like queries."""

import dagster as dg

from movrec_pipeline.defs.embeddings import coverage
from movrec_pipeline.defs.embeddings.partitions import N_BUCKETS
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


def _catalogue_check(kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=f"{kind}_vector_index", name=f"{kind}_catalogue_covered", blocking=True,
                    description=f"Across every bucket, the active model covers the {kind} catalogue (refused items "
                    "count as missing) at least to the threshold: what reads all buckets waits for this.")
    def _covered(postgres: PostgresResource, embedding: EmbeddingResource,
                 tuning: RecommenderSettings) -> dg.AssetCheckResult:
        model_id, dims = active_model(postgres, embedding)
        with postgres.connect() as conn:
            found = coverage.measure(conn, kind, model_id, dims, N_BUCKETS, range(N_BUCKETS),
                                     embedding.item_limit or None)
        return dg.AssetCheckResult(passed=found.passes(tuning.coverage_threshold), metadata={
            **found.metadata(), "threshold": tuning.coverage_threshold, "model_id": model_id})

    return _covered


film_index_recall = _recall_check("film")
netflix_index_recall = _recall_check("netflix")
movielens_index_recall = _recall_check("movielens")
film_catalogue_covered = _catalogue_check("film")
netflix_catalogue_covered = _catalogue_check("netflix")
movielens_catalogue_covered = _catalogue_check("movielens")
