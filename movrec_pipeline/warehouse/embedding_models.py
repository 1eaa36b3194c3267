"""The embedding-model registry ``movrec.embedding_models``: one id per (provider, model, dimensions, template)."""

from __future__ import annotations

import psycopg

from movrec_pipeline.warehouse import sqlfiles

SVD_DIMS = 64
# The collaborative vectors' registry entry (provider, model, dimensions, template version): a truncated SVD of
# the MovieLens ratings, stored beside the text vectors.
COLLABORATIVE = ("svd", f"truncated-svd-{SVD_DIMS}", SVD_DIMS, "ratings")


def register_model(conn: psycopg.Connection, provider: str, model: str, dimensions: int,
                   template_version: str) -> int:
    """Id of the model in ``movrec.embedding_models`` (inserted on first use, committed at once)."""
    row = conn.execute(sqlfiles.load("embeddings/model_upsert"), {
        "provider": provider, "model": model, "dimensions": dimensions, "template_version": template_version,
    }).fetchone()
    if not conn.autocommit:
        conn.commit()
    return int(row[0])
