"""Blocking coverage checks of the text embeddings: every item has a fresh, well-formed vector."""

import dagster as dg

from movrec_pipeline import embedding_sync, texts
from movrec_pipeline.assets.embeddings import N_BUCKETS, TEXT_EMBEDDING_ASSETS, active_model
from movrec_pipeline.resources import EmbeddingResource, PostgresResource, RecommenderSettings

KIND_OF_ASSET = {"film_embeddings": "film", "netflix_embeddings": "netflix",
                 "movielens_movie_embeddings": "movielens"}


def _coverage_check(asset_def: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    asset_name = asset_def.key.to_user_string()
    kind = KIND_OF_ASSET[asset_name]

    @dg.asset_check(asset=asset_def, name=f"{kind}_vectors_complete", blocking=True,
                    description=f"Every {kind} item has a vector for the active model (threshold configurable), "
                    "dimensions match the registry, no zero/NaN vectors, no vector older than its text.")
    def _check(postgres: PostgresResource, embedding: EmbeddingResource,
               tuning: RecommenderSettings) -> dg.AssetCheckResult:
        model_id, dims = active_model(postgres, embedding)
        with postgres.connect() as conn:
            items, empty = embedding_sync.load_items(conn, kind, texts.DEFAULT_TEMPLATES[kind], N_BUCKETS,
                                                     range(N_BUCKETS), embedding.item_limit or None)
            stored = embedding_sync.stored_hashes(conn, kind, model_id, list(range(N_BUCKETS)))
            wrong_dims, bad_norm = conn.execute(
                "SELECT count(*) FILTER (WHERE vector_dims(embedding) <> %s), "
                "count(*) FILTER (WHERE NOT (vector_norm(embedding) > 0)) "
                "FROM movrec.item_embeddings WHERE item_kind = %s AND model_id = %s",
                (dims, kind, model_id)).fetchone()
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


COVERAGE_CHECKS = [_coverage_check(a) for a in TEXT_EMBEDDING_ASSETS]
