"""Checks of the text embeddings, scoped to the buckets a run materialized (so any subset backfills green):
blocking coverage (refused items count against the threshold) and a warning listing the refused items."""

import warnings

import dagster as dg
import pandas as pd

from movrec_pipeline.defs.embeddings.assets import TEXT_KINDS
from movrec_pipeline.defs.metadata import markdown_table
from movrec_pipeline.defs.partitions import ITEM_BUCKETS, N_BUCKETS, buckets_of
from movrec_pipeline.defs.resources import CheckThresholds, EmbeddingResource, PostgresResource
from movrec_pipeline.embedders import coverage, sync
from movrec_pipeline.warehouse import sqlfiles

warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")  # preview in 1.13


COVERAGE_HINT = ("re-run the embedding buckets of the missing items (see examples), or read movrec.embedding_errors "
                 "for the items the provider refused")


def _coverage_check(asset_name: str) -> dg.AssetChecksDefinition:
    kind = TEXT_KINDS[asset_name][0]

    @dg.asset_check(asset=asset_name, name=f"{kind}_vectors_complete", blocking=True, partitions_def=ITEM_BUCKETS,
                    description=f"In the buckets this run materialized, every {kind} item has a vector of the "
                    "active model for its current text or a recorded refusal; coverage (refusals count as "
                    "missing) at least the threshold; dimensions match the registry; no zero/NaN vectors.")
    def _check(context: dg.AssetCheckExecutionContext, postgres: PostgresResource, embedding: EmbeddingResource,
               thresholds: CheckThresholds) -> dg.AssetCheckResult:
        model_id, dims = embedding.active_model(postgres)
        buckets = buckets_of(context)
        with postgres.connect() as conn:
            found = coverage.measure(conn, kind, model_id, dims, N_BUCKETS, buckets, embedding.item_limit or None)
        passed = found.passes(thresholds.coverage_threshold)
        return dg.AssetCheckResult(passed=passed, metadata={**({} if passed else {"what_to_do": COVERAGE_HINT}),
            **found.metadata(), "buckets": len(buckets), "threshold": thresholds.coverage_threshold,
            "model_id": model_id, "dimensions": dims})

    return _check


def _errors_check(asset_name: str) -> dg.AssetChecksDefinition:
    kind = TEXT_KINDS[asset_name][0]

    @dg.asset_check(asset=asset_name, name=f"{kind}_embedding_errors", blocking=False, partitions_def=ITEM_BUCKETS,
                    description=f"Warns when {kind} items of these buckets were refused by the provider "
                    "(movrec.embedding_errors: error, attempts, parked once refused 3 times).")
    def _check(context: dg.AssetCheckExecutionContext, postgres: PostgresResource,
               embedding: EmbeddingResource) -> dg.AssetCheckResult:
        model_id, _ = embedding.active_model(postgres)
        rows = postgres.read_frame(sqlfiles.load("embeddings/error_list"),
                                   {"kind": kind, "model_id": model_id, "buckets": buckets_of(context),
                                    "max_attempts": sync.MAX_ATTEMPTS})
        return dg.AssetCheckResult(passed=rows.empty, severity=dg.AssetCheckSeverity.WARN, metadata={
            "refused_items": len(rows), "parked": int((rows["parked"]).sum()) if len(rows) else 0,
            "items": dg.MetadataValue.md(markdown_table(pd.DataFrame(rows), max_rows=50, max_chars=100))})

    return _check


film_vectors_complete = _coverage_check("film_embeddings")
netflix_vectors_complete = _coverage_check("netflix_embeddings")
movielens_vectors_complete = _coverage_check("movielens_movie_embeddings")
film_embedding_errors = _errors_check("film_embeddings")
netflix_embedding_errors = _errors_check("netflix_embeddings")
movielens_embedding_errors = _errors_check("movielens_movie_embeddings")
