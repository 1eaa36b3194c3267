"""Dagster resources: settings come from the environment, never from run config."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, fields
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
from pydantic import PrivateAttr

from movrec_pipeline.core import paths
from movrec_pipeline.core.config import EmbeddingSettings, embedding_settings
from movrec_pipeline.defs.failures import permanent_errors
from movrec_pipeline.embedders import factory
from movrec_pipeline.embedders.base import Embedder
from movrec_pipeline.warehouse import connection, embedded, tables


class PostgresResource(dg.ConfigurableResource):
    """The warehouse: ``$DATABASE_URL`` when set, else the embedded PostgreSQL with pgvector.

    Only the *name* of the environment variable is configuration, so a password in the URL never
    reaches run config, the UI or the event log.
    """

    url_env_var: str = "DATABASE_URL"
    _url: str | None = PrivateAttr(default=None)
    _pgvector: str | None = PrivateAttr(default=None)

    @property
    def uses_embedded(self) -> bool:
        return not os.environ.get(self.url_env_var)

    def url(self) -> str:
        """The warehouse URL, once checked (pgvector version, schema applied); a one-line Failure if unreachable."""
        if self._url is None:
            with permanent_errors():
                url = connection.warehouse_url(self.url_env_var)
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
            with permanent_errors():  # an unreachable server: one line, not retried
                conn = stack.enter_context(connection.connect(url, autocommit=autocommit))
            yield conn

    def read_frame(self, query: str, params: object = ()) -> pd.DataFrame:
        """The rows of ``query`` as a DataFrame (one short connection)."""
        with self.connect() as conn:
            return tables.read_frame(conn, query, params)

    def count_rows(self, table: str) -> int:
        with self.connect() as conn:
            return tables.count_rows(conn, table)

    def pg_bin(self, program: str) -> str:
        """Path of a client program (pg_restore, pg_dump): embedded server's or the system's."""
        if self.uses_embedded:
            return str(embedded.bin_dir() / program)
        found = shutil.which(program)
        if not found:
            raise dg.Failure(
                f"{program} not found on PATH: install the PostgreSQL client matching your server",
                allow_retries=False,
            )
        return found


class DataDirResource(dg.ConfigurableResource):
    """Where source files are read from (``MOVREC_DATA_DIR``) and downloads are cached."""

    data_dir: str = ""
    allow_download: bool = True

    def path(self) -> Path:
        return Path(self.data_dir).resolve() if self.data_dir else paths.data_dir()


class EmbeddingResource(dg.ConfigurableResource):
    """The text-embedding provider: ``local`` (sentence-transformers, offline), ``openai`` or ``auto``.

    ``auto`` picks ``openai`` when the variable named by ``api_key_env_var`` is set, else ``local``.
    The API key itself is read from the environment at run time and never stored in config.
    """

    provider: str = "auto"
    model: str = ""  # "" = provider default: all-MiniLM-L6-v2 / text-embedding-3-small
    base_url: str = ""  # e.g. http://localhost:11434/v1 (Ollama), https://openrouter.ai/api/v1
    dimensions: int = 0  # 0 = the model's native size
    api_key_env_var: str = "OPENAI_API_KEY"
    template_version: str = "v1"  # bump to keep the old vectors beside new ones after a template change
    write_batch_size: int = 256
    request_batch_items: int = 128
    max_input_chars: int = 8000
    concurrency: int = 4
    timeout_seconds: float = 60.0
    max_retries: int = 6
    device: str = ""  # "" = cuda if available else cpu
    item_limit: int = 0  # >0: embed only the first N items of each source (demos, end-to-end tests)

    def settings(self) -> EmbeddingSettings:
        """The plain settings (what the read side and the embedder factory take)."""
        return EmbeddingSettings(**{f.name: getattr(self, f.name) for f in fields(EmbeddingSettings)})

    def resolved_provider(self) -> str:
        with permanent_errors():
            return self.settings().resolved_provider()

    def get_embedder(self) -> Embedder:
        """The embedder for this configuration (one per process and configuration)."""
        with permanent_errors():
            return factory.get_embedder(self.settings())

    @classmethod
    def from_env(cls) -> EmbeddingResource:
        """Built from ``MOVREC_EMBEDDING_*`` exactly as the read side builds its settings."""
        return cls(**asdict(embedding_settings()))


class RecommenderSettings(dg.ConfigurableResource):
    """Knobs of indexes, checks and recommendation tables (all recorded as metadata when used)."""

    k: int = 10  # recommendations per customer / user
    similar_k: int = 10
    diversity_lambda: float = 1.0  # MMR: 1.0 = pure relevance, lower = more diverse (seed 001's boost)
    recency_half_life_days: float = 0.0  # 0 = plain mean of rented films (seed 000)
    index_method: str = "hnsw"  # or "ivfflat"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 128  # 64 gave recall@10 0.954 at 87k items (ef_search 200); 128 gives 0.988
    hnsw_ef_search: int = 200  # cross-kind profile queries (films -> shows) need > 100 for recall >= 0.98
    ivfflat_lists: int = 0  # 0 = from the row count
    ivfflat_probes: int = 10
    index_recall_floor: float = 0.98
    index_recall_queries: int = 200
    coverage_threshold: float = 0.99  # share of items that must have a vector; refused items count as missing
    ndcg_floor: float = 0.125
    ease_lambda: float = 0.0  # 0 = the recommender's default


@dg.definitions
def resources() -> dg.Definitions:
    """Every resource, declared once: the warehouse, the data directory, the embedding provider, the knobs."""
    return dg.Definitions(resources={
        "postgres": PostgresResource(),
        "data": DataDirResource(),
        "embedding": EmbeddingResource.from_env(),
        "tuning": RecommenderSettings(),
    })
