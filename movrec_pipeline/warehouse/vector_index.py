"""Names of the pgvector indexes per item kind and model, and which one is current (read side)."""

from __future__ import annotations

import psycopg

from movrec_pipeline.warehouse import sqlfiles


def index_prefix(kind: str, model_id: int) -> str:
    return f"item_emb_{kind}_m{model_id}_"


def current_index(conn: psycopg.Connection, kind: str, model_id: int) -> str | None:
    """Name of the valid index of (kind, model), if one exists."""
    prefix = index_prefix(kind, model_id) + "%"
    row = conn.execute(sqlfiles.load("warehouse/current_index"), {"prefix": prefix}).fetchone()
    return row[0] if row else None
