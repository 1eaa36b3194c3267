"""The Dagster code location ``movrec_pipeline``: assets, checks, resources, jobs and automation."""

from __future__ import annotations

import os

import dagster as dg

from movrec_pipeline import automation
from movrec_pipeline.assets import (
    embedding_checks,
    embeddings,
    indexes,
    movielens_recs,
    recommendations,
    source_checks,
    sources,
)
from movrec_pipeline.resources import DataDirResource, EmbeddingResource, PostgresResource, RecommenderSettings


def _embedding_resource() -> EmbeddingResource:
    """Provider settings from MOVREC_EMBEDDING_* variables (none of them secret; the key stays in the env)."""
    env = os.environ.get
    return EmbeddingResource(
        provider=env("MOVREC_EMBEDDING_PROVIDER", "auto"),
        model=env("MOVREC_EMBEDDING_MODEL", ""),
        base_url=env("MOVREC_EMBEDDING_BASE_URL", ""),
        dimensions=int(env("MOVREC_EMBEDDING_DIMENSIONS", "0")),
        item_limit=int(env("MOVREC_ITEM_LIMIT", "0")),
    )


defs = dg.Definitions(
    assets=[sources.dvdrental, sources.netflix_titles, sources.movielens, *embeddings.TEXT_EMBEDDING_ASSETS,
            *indexes.INDEX_ASSETS, recommendations.customer_profiles,
            recommendations.customer_netflix_recommendations, *movielens_recs.MOVIELENS_ASSETS],
    asset_checks=[*source_checks.SOURCE_CHECKS, *embedding_checks.COVERAGE_CHECKS, *indexes.INDEX_CHECKS,
                  *movielens_recs.MOVIELENS_CHECKS],
    jobs=[automation.daily_refresh_job],
    schedules=[automation.daily_refresh_schedule],
    sensors=[automation.automation_sensor],
    resources={
        "postgres": PostgresResource(),
        "data": DataDirResource(),
        "embedding": _embedding_resource(),
        "tuning": RecommenderSettings(),
    },
)
