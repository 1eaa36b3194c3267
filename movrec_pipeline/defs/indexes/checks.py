"""Checks of the vector indexes: the recorded search depth keeps its recall (warns); the catalogue is covered
(blocks what reads every bucket)."""

import dagster as dg

from movrec_pipeline.defs.partitions import N_BUCKETS
from movrec_pipeline.defs.resources import CheckThresholds, EmbeddingResource, IndexResource, PostgresResource
from movrec_pipeline.embedders import coverage
from movrec_pipeline.warehouse import index_tuning
from movrec_pipeline.warehouse.index_recall import RecallProbe

COVERAGE_HINT = ("re-run the embedding buckets of the missing items (see examples), or read movrec.embedding_errors "
                 "for the items the provider refused")


def _recall_check(kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=f"{kind}_vector_index", name=f"{kind}_index_recall", blocking=False,
                    description="Verifies what the index asset recorded: recall@10 against exact search, at the "
                    "recorded search depth, on fresh profile-like queries. Not blocking: batch assets never read the "
                    "index; the live query paths read the recorded settings (exact search when the index could not "
                    "reach the floor), so a failure here warns without stopping the daily lists.")
    def _recall(postgres: PostgresResource, embedding: EmbeddingResource,
                index_settings: IndexResource) -> dg.AssetCheckResult:
        model_id, dims = embedding.active_model(postgres)
        floor = index_settings.recall_floor
        with postgres.connect(autocommit=True) as conn:
            recorded = index_tuning.search_settings(conn, kind, model_id)
            probe = RecallProbe(conn, kind, model_id, dims, n_queries=index_settings.recall_queries, seed=1)
            found = probe.measure(conn, ef_search=(recorded and recorded.ef_search) or 40,
                                  probes=(recorded and recorded.probes) or 1)
        metadata = {"recall_at_10": round(found.recall, 4), "p50_latency_ms": round(found.p50_ms, 3),
                    "p95_latency_ms": round(found.p95_ms, 3), "queries": found.queries, "floor": floor,
                    "uses_index": found.uses_index, "ef_search": (recorded and recorded.ef_search) or 0,
                    "probes": (recorded and recorded.probes) or 0}
        passed, warn_only, what_to_do = index_tuning.verdict(kind, found, recorded, floor)
        return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN if warn_only else
                                   dg.AssetCheckSeverity.ERROR, metadata={**metadata, **(
                                       {"what_to_do": what_to_do} if what_to_do else {})})

    return _recall


def _catalogue_check(kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=f"{kind}_vector_index", name=f"{kind}_catalogue_covered", blocking=True,
                    description=f"Across every bucket, the active model covers the {kind} catalogue (refused items "
                    "count as missing) at least to the threshold: what reads all buckets waits for this.")
    def _covered(postgres: PostgresResource, embedding: EmbeddingResource,
                 thresholds: CheckThresholds) -> dg.AssetCheckResult:
        model_id, dims = embedding.active_model(postgres)
        with postgres.connect() as conn:
            found = coverage.measure(conn, kind, model_id, dims, N_BUCKETS, range(N_BUCKETS),
                                     embedding.item_limit or None)
        passed = found.passes(thresholds.coverage_threshold)
        return dg.AssetCheckResult(passed=passed, metadata={**({} if passed else {"what_to_do": COVERAGE_HINT}),
            **found.metadata(), "threshold": thresholds.coverage_threshold, "model_id": model_id})

    return _covered


film_index_recall = _recall_check("film")
netflix_index_recall = _recall_check("netflix")
movielens_index_recall = _recall_check("movielens")
film_catalogue_covered = _catalogue_check("film")
netflix_catalogue_covered = _catalogue_check("netflix")
movielens_catalogue_covered = _catalogue_check("movielens")
