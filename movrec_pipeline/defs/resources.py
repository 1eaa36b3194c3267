"""Dagster resources, one per concern, filled from the environment through ``dg.EnvVar``.

Each settings resource inherits its fields from a model in :mod:`movrec_pipeline.core.settings` (declared once);
:func:`from_env` passes every variable that is set as ``dg.EnvVar`` (text and whole numbers: the UI shows the
variable's name, and the value is read when a run starts) or, for numbers with a fraction and switches, as the
value parsed once here. Secrets are ``dg.EnvVar`` only and only when set (the optional-secret pattern): the
warehouse URL (``DATABASE_URL``) and the provider's API key never reach run config, the UI or the event log.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import pandas as pd
import psycopg
from pydantic import PrivateAttr

from movrec_pipeline.core import paths
from movrec_pipeline.core.settings import (
    CheckSettings,
    EmbeddingSettings,
    IndexSettings,
    RecommenderSettings,
    Settings,
    SourceSettings,
)
from movrec_pipeline.defs.failures import movrec_errors_as_failures
from movrec_pipeline.embedders import factory
from movrec_pipeline.embedders.base import Embedder
from movrec_pipeline.ingest import files
from movrec_pipeline.warehouse import connection, embedded, tables
from movrec_pipeline.warehouse.embedding_models import COLLABORATIVE, register_model

DATABASE_URL = "DATABASE_URL"
R = TypeVar("R", bound=dg.ConfigurableResource)


class PostgresResource(dg.ConfigurableResource):
    """The warehouse: ``database_url`` (from ``DATABASE_URL``) when set, else the embedded PostgreSQL."""

    database_url: str = ""
    _url: str | None = PrivateAttr(default=None)
    _pgvector: str | None = PrivateAttr(default=None)

    @property
    def uses_embedded(self) -> bool:
        return not self.database_url

    def url(self) -> str:
        """The warehouse URL, once checked (pgvector version, schema applied); a one-line Failure if unreachable."""
        if self._url is None:
            with movrec_errors_as_failures():
                url = connection.warehouse_url(self.database_url or None)
                self._pgvector = connection.prepare_warehouse(url)
            self._url = url
        return self._url

    def pgvector_version(self) -> str:
        self.url()
        return self._pgvector or ""

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        url = self.url()
        with ExitStack() as stack:
            with movrec_errors_as_failures():  # an unreachable server: one line, not retried
                conn = stack.enter_context(connection.connect(url, autocommit=autocommit))
            yield conn

    def read_frame(self, query: Any, params: object = ()) -> pd.DataFrame:
        """The rows of ``query`` as a DataFrame (one short connection)."""
        with self.connect() as conn:
            return tables.read_frame(conn, query, params)

    def count_rows(self, table: str) -> int:
        with self.connect() as conn:
            return tables.count_rows(conn, table)

    def collaborative_model_id(self) -> int:
        """Registry id of the collaborative vectors (``svd/truncated-svd-64``)."""
        with self.connect() as conn:
            return register_model(conn, *COLLABORATIVE)

    def pg_bin(self, program: str) -> str:
        """Path of a client program (pg_restore, pg_dump): embedded server's or the system's."""
        if self.uses_embedded:
            return str(embedded.bin_dir() / program)
        found = shutil.which(program)
        if not found:
            raise dg.Failure(f"{program} not found on PATH: install the PostgreSQL client matching your server",
                             allow_retries=False)
        return found


class SourcesResource(dg.ConfigurableResource, SourceSettings):
    """Where source files are read from and downloads cached; how far a load may shrink a published table."""

    def path(self) -> Path:
        return Path(self.data_dir).resolve() if self.data_dir else paths.data_dir()

    def release(self) -> files.MovieLensRelease:
        with movrec_errors_as_failures():
            return files.movielens_release(self.movielens, data_dir=self.path())


class EmbeddingResource(dg.ConfigurableResource, EmbeddingSettings):
    """The text-embedding provider: ``local`` (sentence-transformers, offline), ``openai`` or ``auto``."""

    api_key: str | None = None  # dg.EnvVar(<api_key_env_var>); None: that variable, read when a run needs it

    def key(self) -> str:
        """The API key ("" when none is configured)."""
        return self.api_key if self.api_key is not None else os.environ.get(self.api_key_env_var, "")

    def settings(self) -> EmbeddingSettings:
        """The plain settings (what the read side and the embedder factory take)."""
        return EmbeddingSettings(**{name: getattr(self, name) for name in EmbeddingSettings.model_fields})

    def resolved_provider(self) -> str:
        with movrec_errors_as_failures():
            return self.settings().resolved_provider(bool(self.key()))

    def get_embedder(self) -> Embedder:
        """The embedder for this configuration (one per process and configuration)."""
        with movrec_errors_as_failures():
            return factory.get_embedder(self.settings(), self.key())

    def active_model(self, postgres: PostgresResource) -> tuple[int, int]:
        """(registry id, dimensions) of the configured text model (registered on first use)."""
        embedder = self.get_embedder()
        with movrec_errors_as_failures():
            dims = embedder.dimensions
        with postgres.connect() as conn:
            return register_model(conn, embedder.provider, embedder.model, dims, self.template_version), dims


class IndexResource(dg.ConfigurableResource, IndexSettings):
    """How vector indexes are built and how much recall their check demands."""


class RecommenderResource(dg.ConfigurableResource, RecommenderSettings):
    """Sizes and knobs of the stored recommendation lists."""


class CheckThresholds(dg.ConfigurableResource, CheckSettings):
    """Thresholds of the coverage and quality checks."""


def from_env(resource: type[R], settings: type[Settings], **extra: Any) -> R:
    """``resource`` with every variable of ``settings`` that is set (``extra`` wins): ``dg.EnvVar`` for text and whole
    numbers, else the value parsed here (a bad value fails loading with one line naming the variable)."""
    parsed = settings.env_values()
    kwargs: dict[str, Any] = {}
    for field, value in parsed.items():
        var = settings.env_name(field)
        kwargs[field] = dg.EnvVar(var) if isinstance(value, str) else dg.EnvVar.int(var) if (
            isinstance(value, int) and not isinstance(value, bool)) else value
    return resource(**{**kwargs, **extra})


def embedding_resource() -> EmbeddingResource:
    key_var = EmbeddingSettings.env_values().get("api_key_env_var", "OPENAI_API_KEY")
    key = {"api_key": dg.EnvVar(key_var)} if os.environ.get(key_var) else {}
    return from_env(EmbeddingResource, EmbeddingSettings, **key)


def postgres_resource() -> PostgresResource:
    return PostgresResource(database_url=dg.EnvVar(DATABASE_URL)) if os.environ.get(DATABASE_URL) else (
        PostgresResource())


@dg.definitions
def resources() -> dg.Definitions:
    """Every resource, declared once: the warehouse, the sources, the embedding provider, indexes, lists, checks."""
    return dg.Definitions(resources={
        "postgres": postgres_resource(),
        "sources": from_env(SourcesResource, SourceSettings),
        "embedding": embedding_resource(),
        "index_settings": from_env(IndexResource, IndexSettings),
        "recommender": from_env(RecommenderResource, RecommenderSettings),
        "thresholds": from_env(CheckThresholds, CheckSettings),
    })
