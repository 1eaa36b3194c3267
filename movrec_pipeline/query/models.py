"""The embedding models a query reads: the configured text model and the collaborative vectors (read only)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from movrec_pipeline.core import settings
from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.core.settings import EmbeddingSettings
from movrec_pipeline.embedders import factory
from movrec_pipeline.embedders.base import Embedder
from movrec_pipeline.query.errors import NotMaterializedError, QueryError
from movrec_pipeline.query.session import VECTOR_ASSETS, database_key, one_line, table_exists
from movrec_pipeline.warehouse import sqlfiles
from movrec_pipeline.warehouse.embedding_models import COLLABORATIVE

_ACTIVE: dict[tuple, Model] = {}


@dataclass(frozen=True)
class Model:
    """An embedding model of the registry ``movrec.embedding_models``."""

    model_id: int
    provider: str
    name: str
    dimensions: int

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.name} ({self.dimensions}d)"


def api_key() -> str:
    """The provider's API key, from the variable the settings name ("" when unset)."""
    return settings.secret(embedding_settings().api_key_env_var)


def embedding_settings() -> EmbeddingSettings:
    """The provider settings from ``MOVREC_EMBEDDING_*``, parsed exactly as the pipeline parses them."""
    try:
        return EmbeddingSettings.from_env()
    except MovrecError as exc:
        raise QueryError(f"bad embedding settings in the environment: {one_line(exc)}") from None


def embedder() -> Embedder:
    """The active provider's embedder (cached per process and settings by the factory)."""
    try:
        return factory.get_embedder(embedding_settings(), api_key())
    except QueryError:
        raise
    except MovrecError as exc:
        raise QueryError(one_line(exc)) from None


def _configured_model() -> tuple[str, str, int | None, str]:
    """(provider, model, dimensions or None when unknown, template version) of the active settings."""
    settings = embedding_settings()
    emb = embedder()
    return emb.provider, emb.model, emb.dimensions if emb.provider == "local" else factory.expected_dimensions(
        settings, api_key()), settings.template_version


def lookup_model(conn: psycopg.Connection, provider: str, model: str, dimensions: int | None = None,
                 template_version: str | None = None) -> Model | None:
    row = conn.execute(sqlfiles.load("query/model_lookup"), {
        "provider": provider, "model": model, "dimensions": dimensions, "template_version": template_version,
    }).fetchone()
    return Model(int(row[0]), row[1], row[2], int(row[3])) if row else None


def active_text_model(conn: psycopg.Connection) -> Model:
    """The registry entry of the configured text model (never registers one: read commands do not write)."""
    key = (database_key(conn), embedding_settings(), bool(api_key()))
    if key in _ACTIVE:
        return _ACTIVE[key]
    provider, name, dims, template = _configured_model()
    found = lookup_model(conn, provider, name, dims, template) if table_exists(
        conn, "movrec.embedding_models") else None
    if found is None:
        wanted = f"{provider}/{name}" + (f" ({dims}d)" if dims else "")
        raise NotMaterializedError(
            f"no vectors for the active embedding model {wanted} yet: materialize the embedding assets "
            "(movrec materialize), or set MOVREC_EMBEDDING_* as they were when the pipeline ran")
    _ACTIVE[key] = found  # registry ids never change once assigned
    return found


def collaborative_model(conn: psycopg.Connection) -> Model:
    found = lookup_model(conn, *COLLABORATIVE[:2]) if table_exists(conn, "movrec.embedding_models") else None
    if found is None:
        raise NotMaterializedError("no collaborative vectors yet: materialize movielens_collaborative_vectors "
                                   "(movrec materialize)")
    return found


def has_vectors(conn: psycopg.Connection, kind: str, model: Model) -> bool:
    row = conn.execute(sqlfiles.load("query/has_vectors"), {"kind": kind, "model_id": model.model_id}).fetchone()
    return bool(row[0])


def require_vectors(conn: psycopg.Connection, kind: str, model: Model, asset: str | None = None) -> None:
    """Raise :class:`NotMaterializedError` when ``kind`` has no vectors under ``model``."""
    if not has_vectors(conn, kind, model):
        asset = asset or VECTOR_ASSETS.get(kind, "the embedding assets")
        raise NotMaterializedError(f"no {kind} vectors for {model.label} yet: materialize {asset} (movrec materialize)")


