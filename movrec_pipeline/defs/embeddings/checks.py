"""Blocking coverage checks of the text embeddings: every item has a fresh, well-formed vector."""

import dagster as dg

from movrec_pipeline.defs.embeddings import sync, texts
from movrec_pipeline.defs.embeddings.assets import TEXT_KINDS
from movrec_pipeline.defs.embeddings.partitions import N_BUCKETS
from movrec_pipeline.defs.embeddings.registry import active_model
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource, RecommenderSettings
from movrec_pipeline.warehouse import sqlfiles


def _coverage_check(asset_name: str) -> dg.AssetChecksDefinition:
    kind = TEXT_KINDS[asset_name][0]

    @dg.asset_check(asset=asset_name, name=f"{kind}_vectors_complete", blocking=True,
                    description=f"Every {kind} item has a vector for the active model (threshold configurable), "
                    "dimensions match the registry, no zero/NaN vectors, no vector older than its text.")
    def _check(postgres: PostgresResource, embedding: EmbeddingResource,
               tuning: RecommenderSettings) -> dg.AssetCheckResult:
        model_id, dims = active_model(postgres, embedding)
        with postgres.connect() as conn:
            items, empty = sync.load_items(conn, kind, texts.DEFAULT_TEMPLATES[kind], N_BUCKETS,
                                                     range(N_BUCKETS), embedding.item_limit or None)
            stored = sync.stored_hashes(conn, kind, model_id, list(range(N_BUCKETS)))
            wrong_dims, bad_norm = conn.execute(sqlfiles.load("embeddings/malformed_vectors"),
                                                {"dims": dims, "kind": kind, "model_id": model_id}).fetchone()
        missing = [it.key for it in items if it.key not in stored]
        stale = [it.key for it in items if it.key in stored and stored[it.key] != it.hash]
        coverage = (len(items) - len(missing)) / len(items) if items else 1.0
        passed = coverage >= tuning.coverage_threshold and not wrong_dims and not bad_norm and not stale
        return dg.AssetCheckResult(passed=passed, metadata={
            "coverage_pct": round(100 * coverage, 2),
            "items": len(items), "missing": len(missing), "stale_text_hash": len(stale),
            "wrong_dimensions": wrong_dims, "zero_or_nan": bad_norm, "empty_text": len(empty),
            "model_id": model_id, "dimensions": dims,
            "examples": ", ".join((missing + stale)[:10]) or "-",
        })

    return _check


film_vectors_complete = _coverage_check("film_embeddings")
netflix_vectors_complete = _coverage_check("netflix_embeddings")
movielens_vectors_complete = _coverage_check("movielens_movie_embeddings")
