"""Every setting of the pipeline, one typed model per concern, each field settable from the environment.

A field's variable is ``<prefix><FIELD>`` (``MOVREC_INDEX_HNSW_M``) unless it names its own (``env=``). The
Dagster resources inherit these models (their fields are declared once, here) and are filled from the same
variables through ``dg.EnvVar`` (:mod:`movrec_pipeline.defs.resources`); the read side reads them with
:meth:`Settings.from_env`. A bad value is a one-line :class:`MovrecError` naming the variable. Secrets (the
warehouse URL, the provider's API key) are never fields here: only the *names* of their variables are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from movrec_pipeline.core.errors import MovrecError

PROVIDERS = ("local", "openai", "auto")
INDEX_METHODS = ("hnsw", "ivfflat")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env(name: str, default: Any, description: str) -> Any:
    """A field whose variable is ``name`` rather than the model's prefix + field name."""
    return Field(default, description=description, json_schema_extra={"env": name})


class Settings(BaseModel):
    """Base of the settings models: environment names, parsing, one-line errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ENV_PREFIX: ClassVar[str] = "MOVREC_"

    @classmethod
    def env_name(cls, field: str) -> str:
        extra = cls.model_fields[field].json_schema_extra
        if isinstance(extra, dict) and "env" in extra:
            return str(extra["env"])
        return cls.ENV_PREFIX + field.upper()

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """field -> environment variable, for every field."""
        return {name: cls.env_name(name) for name in cls.model_fields}

    @classmethod
    def env_values(cls, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The fields the environment sets, parsed to their types (a bad value raises a one-line MovrecError)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, var in cls.env_names().items():
            raw = environ.get(var)
            if raw is None:
                continue
            values[field] = _parse(var, raw.strip(), cls.model_fields[field].annotation)
        try:
            cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            raise MovrecError(f"{cls.env_name(field)}: {first['msg']}") from None
        return values

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        return cls(**cls.env_values(environ))

    def plain(self) -> dict[str, Any]:
        """The values as a dict (for metadata and fingerprints)."""
        return self.model_dump()


def _parse(var: str, raw: str, annotation: Any) -> Any:
    kind = annotation if isinstance(annotation, type) else {"int": int, "float": float, "bool": bool}.get(
        str(annotation), str)
    try:
        if kind is bool:
            if raw.lower() not in _TRUE + _FALSE:
                raise ValueError
            return raw.lower() in _TRUE
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        expected = {bool: "1/0, true/false or yes/no", int: "a whole number", float: "a number"}[kind]
        raise MovrecError(f"{var} must be {expected}, got {raw!r}") from None
    return raw


class SourceSettings(Settings):
    """Where the source files are and how far a new file may change what is published."""

    data_dir: str = env("MOVREC_DATA_DIR", "", "folder holding dvdrental.tar, netflix_titles.csv and the "
                        "MovieLens release (default: $MOVREC_HOME/data)")
    movielens: str = env("MOVREC_MOVIELENS", "ml-latest-small",
                         "ml-latest-small, ml-latest, ml-25m, ml-32m, or a MovieLens-format folder in the data dir")
    dvdrental_archive: str = env("MOVREC_DVDRENTAL_ARCHIVE", "", "path of the dvdrental archive, if not in the "
                                 "data dir")
    allow_download: bool = env("MOVREC_ALLOW_DOWNLOAD", True, "download missing public files (checksums verified)")
    allow_shrink: bool = env("MOVREC_ALLOW_SHRINK", False, "let a new file shrink a published table by more "
                             "than max_shrink")
    max_shrink: float = env("MOVREC_MAX_SHRINK", 0.05, "largest share of a published table's rows a load may drop")


class EmbeddingSettings(Settings):
    """Which provider and model embed texts, and how requests are sized (none of it secret)."""

    ENV_PREFIX: ClassVar[str] = "MOVREC_EMBEDDING_"
    provider: str = Field("auto", description="local | openai | auto (= openai when the API key variable is set)")
    model: str = Field("", description="\"\" = provider default: all-MiniLM-L6-v2 / text-embedding-3-small; local: "
                       "a sentence-transformers folder, or a model shipped in an installed package")
    base_url: str = Field("", description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama)")
    dimensions: int = Field(0, description="dimensions sent to models that support it (0 = the model's own)")
    api_key_env_var: str = env("MOVREC_EMBEDDING_API_KEY_VAR", "OPENAI_API_KEY",
                               "name of the variable holding the provider's API key")
    template_version: str = Field("v1", description="bump to keep old vectors beside new ones after a template "
                                  "change")
    write_batch_size: int = env("MOVREC_EMBEDDING_BATCH_SIZE", 256, "texts per committed write batch")
    request_batch_items: int = env("MOVREC_EMBEDDING_REQUEST_ITEMS", 128, "texts per provider request")
    max_input_chars: int = Field(8000, description="longer texts are cut (flagged `truncated`)")
    concurrency: int = Field(4, description="provider requests in flight at once")
    timeout_seconds: float = env("MOVREC_EMBEDDING_TIMEOUT", 60.0, "seconds before a provider request times out")
    max_retries: int = Field(6, description="retries of one request by the openai client (429, 5xx, timeouts)")
    device: str = Field("", description="local model's torch device (\"\" = cuda if available, else cpu)")
    item_limit: int = env("MOVREC_ITEM_LIMIT", 0, "embed only the first N items of each source (0 = all)")

    def resolved_provider(self, api_key_present: bool) -> str:
        """``local`` or ``openai``; ``auto`` means openai exactly when the API key variable is set."""
        if self.provider not in PROVIDERS:
            raise MovrecError(f"unknown embedding provider {self.provider!r}: set MOVREC_EMBEDDING_PROVIDER to "
                              "local, openai or auto")
        if self.provider != "auto":
            return self.provider
        return "openai" if api_key_present else "local"


class IndexSettings(Settings):
    """Vector indexes: method, build parameters, and the recall their check demands."""

    ENV_PREFIX: ClassVar[str] = "MOVREC_INDEX_"
    method: str = Field("hnsw", description="hnsw or ivfflat")
    hnsw_m: int = Field(16, description="HNSW graph degree")
    hnsw_ef_construction: int = Field(128, description="HNSW build depth (denser builds are tried when no search "
                                      "depth reaches the floor)")
    ivfflat_lists: int = Field(0, description="IVFFlat lists (0 = rows/1000, sqrt(rows) above 1M)")
    recall_floor: float = Field(0.98, description="recall@10 against exact search the index is tuned to (search "
                                "depth chosen on the loaded vectors)")
    max_p95_ms: float = Field(25.0, description="latency bound of the tuning: deeper searches slower than this at "
                              "p95 are not used (exact search instead when none reaches the floor)")
    recall_queries: int = Field(200, description="profile-like queries the tuning and the recall check sample")


class RecommenderSettings(Settings):
    """The stored recommendation lists."""

    ENV_PREFIX: ClassVar[str] = "MOVREC_RECOMMEND_"
    k: int = Field(10, description="recommendations stored per customer and user")
    similar_k: int = Field(10, description="similar movies stored per movie and source")
    diversity_lambda: float = Field(1.0, description="MMR trade-off for customers' lists (1 = relevance only)")
    recency_half_life_days: float = Field(0.0, description="customer profiles: half-life of a rental's weight "
                                          "(0 = plain mean of rented films)")
    ease_lambda: float = Field(0.0, description="EASE regularisation of the MovieLens model (0 = tuned value)")


class CheckSettings(Settings):
    """Thresholds of the data-quality checks."""

    ENV_PREFIX: ClassVar[str] = "MOVREC_CHECK_"
    coverage_threshold: float = Field(0.99, description="share of items that must have a vector (refused count as "
                                      "missing)")
    ndcg_floor: float = Field(0.125, description="T80 NDCG@10 floor of the MovieLens model on ml-latest-small")


class RunSettings(Settings):
    """When and where runs execute."""

    daily_cron: str = env("MOVREC_DAILY_CRON", "0 4 * * *", "when the daily refresh runs")
    timezone: str = env("MOVREC_TIMEZONE", "UTC", "time zone of the daily cron")
    dask_scheduler: str = env("MOVREC_DASK_SCHEDULER", "", "tcp://host:8786: steps of every run but the daily "
                              "refresh execute on that Dask cluster's workers")
    buckets_per_run: int = env("MOVREC_BUCKETS_PER_RUN", 0, "a backfill of bucket-partitioned assets becomes runs "
                               "of this many buckets (0 = one run)")
    pool_limits: str = env("MOVREC_POOL_LIMITS", "", "pool slots set on start, e.g. movrec_db_heavy=1,"
                           "movrec_embedding_api=2")


class ApiSettings(Settings):
    """The HTTP API (``movrec serve``): where it listens, who may call it, and its limits."""

    ENV_PREFIX: ClassVar[str] = "MOVREC_API_"
    host: str = Field("127.0.0.1", description="address the API binds to; anything but loopback requires API keys")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the API")
    workers: int = Field(1, ge=1, description="server worker processes")
    key_hashes: str = Field("", description="comma-separated `sha256:<hex>` digests of the accepted API keys "
                            "(`movrec api-key` makes one); callers send `Authorization: Bearer <key>`")
    pool_size: int = Field(8, ge=1, le=200, description="database connections per worker, = threads running "
                           "queries at once")
    timeout_seconds: float = Field(10.0, gt=0, description="time limit of a request (and of each SQL statement)")
    max_body_bytes: int = Field(16384, ge=1024, description="largest request body accepted (413 beyond)")
    max_limit: int = Field(100, ge=1, le=1000, description="largest page size (`limit`); `offset + limit` is at "
                           "most 1000")
    retry_after_seconds: int = Field(30, ge=0, description="`Retry-After` of 503 answers (nothing materialized, "
                                     "database busy or down)")


GROUPS: tuple[type[Settings], ...] = (SourceSettings, EmbeddingSettings, IndexSettings, RecommenderSettings,
                                      CheckSettings, RunSettings, ApiSettings)


def secret_present(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a secret's variable (``DATABASE_URL``, the API key) is set — never its value."""
    return bool((os.environ if environ is None else environ).get(name))


def secret(name: str) -> str:
    """A secret's value from the environment ("" when unset); only the read side and the CLI call this."""
    return os.environ.get(name, "")
