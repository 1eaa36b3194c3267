"""The embedding-model registry (``movrec.embedding_models``): which model id the configured provider writes."""

import psycopg

from movrec_pipeline.defs.failures import permanent_errors
from movrec_pipeline.defs.resources import EmbeddingResource, PostgresResource
from movrec_pipeline.warehouse import sqlfiles


def register_model(conn: psycopg.Connection, provider: str, model: str, dimensions: int,
                   template_version: str) -> int:
    """Id of the model in ``movrec.embedding_models`` (inserted on first use)."""
    row = conn.execute(sqlfiles.load("embeddings/model_upsert"), {
        "provider": provider, "model": model, "dimensions": dimensions, "template_version": template_version,
    }).fetchone()
    if not conn.autocommit:
        conn.commit()
    return int(row[0])


def active_model(postgres: PostgresResource, embedding: EmbeddingResource) -> tuple[int, int]:
    """(registry id, dimensions) of the configured text model (registered on first use)."""
    with permanent_errors():
        embedder = embedding.get_embedder()
        dims = embedder.dimensions
    with postgres.connect() as conn:
        model_id = register_model(conn, embedder.provider, embedder.model, dims, embedding.template_version)
    return model_id, dims
