"""The Dagster code location ``movrec_pipeline``: assets, checks, resources, jobs and automation."""

from __future__ import annotations

import dagster as dg

from movrec_pipeline.assets import embeddings, source_checks, sources
from movrec_pipeline.resources import DataDirResource, EmbeddingResource, PostgresResource

defs = dg.Definitions(
    assets=[sources.dvdrental, sources.netflix_titles, sources.movielens, *embeddings.TEXT_EMBEDDING_ASSETS],
    asset_checks=[*source_checks.SOURCE_CHECKS],
    resources={
        "postgres": PostgresResource(),
        "data": DataDirResource(),
        "embedding": EmbeddingResource(),
    },
)
