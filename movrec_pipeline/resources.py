"""Dagster resources: settings come from the environment, never from run config."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import PrivateAttr

from movrec_pipeline import settings
from movrec_pipeline.db import connection, embedded


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
        if self._url is None:
            url = connection.warehouse_url(self.url_env_var)
            self._pgvector = connection.prepare_warehouse(url)
            self._url = url
        return self._url

    def pgvector_version(self) -> str:
        self.url()
        return self._pgvector or ""

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with connection.connect(self.url(), autocommit=autocommit) as conn:
            yield conn

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
        return Path(self.data_dir).resolve() if self.data_dir else settings.data_dir()


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

    def resolved_provider(self) -> str:
        if self.provider != "auto":
            if self.provider not in ("local", "openai"):
                raise dg.Failure(f"unknown embedding provider {self.provider!r}: use local, openai or auto",
                                 allow_retries=False)
            return self.provider
        return "openai" if os.environ.get(self.api_key_env_var) else "local"

    def get_embedder(self):
        """The embedder for this configuration (one per process and configuration)."""
        secret = hashlib.sha256(os.environ.get(self.api_key_env_var, "").encode()).hexdigest()  # key rotation
        key = (self.resolved_provider(), self.model, self.base_url, self.dimensions, self.device,
               self.request_batch_items, self.concurrency, self.timeout_seconds, self.max_retries,
               self.max_input_chars, secret)
        if key not in _EMBEDDERS:
            if key[0] == "local":
                from movrec_pipeline.embedders.local import LocalSentenceTransformerEmbedder

                _EMBEDDERS[key] = LocalSentenceTransformerEmbedder(device=self.device or None,
                                                                   max_chars=self.max_input_chars)
            else:
                from movrec_pipeline.embedders.openai_compat import OpenAICompatibleEmbedder

                _EMBEDDERS[key] = OpenAICompatibleEmbedder(
                    api_key=os.environ.get(self.api_key_env_var, ""),
                    model=self.model or "text-embedding-3-small", base_url=self.base_url or None,
                    dimensions=self.dimensions or None, max_batch_items=self.request_batch_items,
                    max_input_chars=self.max_input_chars, concurrency=self.concurrency,
                    timeout=self.timeout_seconds, max_retries=self.max_retries,
                )
        return _EMBEDDERS[key]


_EMBEDDERS: dict[tuple, object] = {}


class RecommenderSettings(dg.ConfigurableResource):
    """Knobs of indexes, checks and recommendation tables (all recorded as metadata when used)."""

    k: int = 10  # recommendations per customer / user
    similar_k: int = 10
    diversity_lambda: float = 1.0  # MMR: 1.0 = pure relevance, lower = more diverse (seed 001's boost)
    recency_half_life_days: float = 0.0  # 0 = plain mean of rented films (seed 000)
    index_method: str = "hnsw"  # or "ivfflat"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 200  # cross-kind profile queries (films -> shows) need > 100 for recall >= 0.98
    ivfflat_lists: int = 0  # 0 = from the row count
    ivfflat_probes: int = 10
    index_recall_floor: float = 0.98
    index_recall_queries: int = 200
    coverage_threshold: float = 1.0
    ndcg_floor: float = 0.125
    ease_lambda: float = 0.0  # 0 = the recommender's default
