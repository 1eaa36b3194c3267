"""Checks of the vector indexes: the recorded search depth keeps its recall (warns); the catalogue is covered
(blocks what reads every bucket)."""

import dagster as dg

from movrec_pipeline.defs.indexes.assets import index_asset_name, indexed_model
from movrec_pipeline.defs.partitions import N_BUCKETS
from movrec_pipeline.defs.resources import CheckThresholds, EmbeddingResource, IndexResource, PostgresResource
from movrec_pipeline.embedders import coverage
from movrec_pipeline.warehouse import index_tuning

COVERAGE_HINT = ("re-run the embedding buckets of the missing items (see examples), or read movrec.embedding_errors "
                 "for the items the provider refused")


def _recall_check(kind: str) -> dg.AssetChecksDefinition:
    asset = index_asset_name(kind)

    @dg.asset_check(asset=asset, name=asset.replace("_vector_index", "_index_recall"), blocking=False,
                    description="Verifies what the index asset recorded: recall@10 against exact search, at the "
                    "recorded search depth, on fresh profile-like queries. Not blocking: batch assets never read the "
                    "index; the live query paths read the recorded settings (exact search when the index could not "
                    "reach the floor), so a failure here warns without stopping the daily lists.")
    def _recall(postgres: PostgresResource, embedding: EmbeddingResource,
                index_settings: IndexResource) -> dg.AssetCheckResult:
        model_id, dims = indexed_model(postgres, embedding, collaborative=False)
        with postgres.connect(autocommit=True) as conn:
            passed, warn_only, metadata = index_tuning.recheck(conn, kind, model_id, dims, index_settings.recall_floor,
                                                               n_queries=index_settings.recall_queries, asset=asset)
        return dg.AssetCheckResult(passed=passed, metadata=metadata, severity=dg.AssetCheckSeverity.WARN
                                   if warn_only else dg.AssetCheckSeverity.ERROR)

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
