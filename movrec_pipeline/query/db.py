"""Read-only sessions on the warehouse, "materialize X first" checks, the active model and index kNN."""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from movrec_pipeline.core import config, paths
from movrec_pipeline.core.config import EmbeddingSettings
from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.embedders import factory
from movrec_pipeline.embedders.base import Embedder
from movrec_pipeline.query.errors import NotMaterializedError, QueryError
from movrec_pipeline.warehouse import connection, embedded, sqlfiles, vector_index, vectors

MAX_K = 1000
COLLABORATIVE = ("svd", "truncated-svd-64")  # movielens_collaborative_vectors' registry entry (provider, model)
SEARCH_VERSION = "movrec search v3"  # must match the comment on movrec.movie_stats in sql/search.sql
_URLS: dict[str, str] = {}
_SEARCH_READY: set[str] = set()
_KEYS: weakref.WeakKeyDictionary[psycopg.Connection, str] = weakref.WeakKeyDictionary()
_SATISFIED: set[tuple[str, str]] = set()
_ACTIVE: dict[tuple, Model] = {}


@dataclass(frozen=True)
class Need:
    """A table a command reads and the asset that fills it."""

    asset: str
    table: str  # schema.table that must exist and have rows
    what: str  # "no recommendations"

    def message(self) -> str:
        return f"{self.what} yet: materialize {self.asset} (movrec materialize)"


DVDRENTAL = Need("dvdrental", "dvdrental.rental", "no dvdrental rentals")
SHOWS = Need("netflix_titles", "netflix.shows", "no Netflix shows")
MOVIES = Need("movielens_movies", "movielens.movies", "no MovieLens movies")
RATINGS = Need("movielens_ratings", "movielens.ratings", "no MovieLens ratings")
CUSTOMER_RECS = Need("customer_netflix_recommendations", "movrec.customer_netflix_recommendations",
                     "no recommendations")
USER_RECS = Need("movielens_user_recommendations", "movrec.movielens_user_recommendations",
                 "no MovieLens recommendations")
SIMILAR = Need("movielens_similar_movies", "movrec.movielens_similar_movies", "no similar-movie lists")
VECTORS = Need("the embedding assets", "movrec.item_embeddings", "no vectors")
NOTHING = Need("the whole graph", "movrec.item_embeddings", "nothing materialized")
VECTOR_ASSETS = {"film": "film_embeddings", "netflix": "netflix_embeddings",
                 "movielens": "movielens_movie_embeddings"}


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


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _WarehouseMissing(Exception):
    """The embedded server runs but has no warehouse database yet."""


def warehouse_url() -> str:
    """``$DATABASE_URL``, else the embedded warehouse — without creating it when it does not exist."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    key = str(paths.pgdata_dir())
    if key not in _URLS:
        admin = embedded.server_uri()
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                     (paths.WAREHOUSE_DB,)).fetchone()
        except psycopg.OperationalError as exc:
            raise QueryError(f"cannot connect to the embedded PostgreSQL: {one_line(exc)}") from None
        if not found:
            raise _WarehouseMissing
        _URLS[key] = embedded.server_uri(database=paths.WAREHOUSE_DB)
    return _URLS[key]


@contextmanager
def connect(need: Need | None = None) -> Iterator[psycopg.Connection]:
    """A read-only connection (``default_transaction_read_only``, autocommit) with pgvector types.

    Pass it as ``conn=`` to the query functions to reuse it; each call runs in its own transaction.
    """
    from pgvector.psycopg import register_vector

    need = need or NOTHING
    try:
        url = warehouse_url()
    except _WarehouseMissing:
        raise NotMaterializedError(need.message()) from None
    try:
        conn = psycopg.connect(url, autocommit=True, prepare_threshold=None, application_name="movrec-query",
                               options="-c default_transaction_read_only=on")
    except psycopg.OperationalError as exc:
        raise QueryError(f"cannot connect to {connection.redact(url)}: {one_line(exc)}") from None
    with conn:
        if conn.execute("SELECT to_regtype('vector') IS NULL").fetchone()[0]:
            raise NotMaterializedError(need.message())
        register_vector(conn)
        yield conn


@contextmanager
def session(conn: psycopg.Connection | None, *needs: Need) -> Iterator[psycopg.Connection]:
    """One read-only transaction on ``conn`` (or a new connection) after checking ``needs`` have rows.

    Database errors inside become a one-line :class:`QueryError`.
    """
    with ExitStack() as stack:
        if conn is None:
            conn = stack.enter_context(connect(needs[0] if needs else None))
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                for need in needs:
                    require(conn, need)
                yield conn
        except psycopg.Error as exc:
            raise QueryError(f"database error: {one_line(exc)}") from None


def database_key(conn: psycopg.Connection) -> str:
    """The connection's DSN (no password), cached: ``conn.info.dsn`` costs a fraction of a millisecond."""
    if conn not in _KEYS:
        _KEYS[conn] = conn.info.dsn
    return _KEYS[conn]


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0])


def require(conn: psycopg.Connection, need: Need) -> None:
    """Raise :class:`NotMaterializedError` unless ``need.table`` exists and has a row.

    Remembered per database once true: the assets replace tables in one transaction, never leave them empty.
    """
    key = (database_key(conn), need.table)
    if key in _SATISFIED:
        return
    if table_exists(conn, need.table):
        schema, table = need.table.split(".")
        probe = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(schema, table))
        if conn.execute(probe).fetchone()[0]:
            _SATISFIED.add(key)
            return
    raise NotMaterializedError(need.message())


def check_k(k: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"{name} must be a whole number from 1 to {MAX_K}, got {k!r}")
    return k


def embedding_settings() -> EmbeddingSettings:
    """The provider settings from ``MOVREC_EMBEDDING_*``, parsed exactly as the pipeline parses them."""
    try:
        return config.embedding_settings()
    except MovrecError as exc:
        raise QueryError(f"bad embedding settings in the environment: {one_line(exc)}") from None


def embedder() -> Embedder:
    """The active provider's embedder (cached per process and settings by the factory)."""
    try:
        return factory.get_embedder(embedding_settings())
    except QueryError:
        raise
    except MovrecError as exc:
        raise QueryError(one_line(exc)) from None


def _configured_model() -> tuple[str, str, int | None, str]:
    """(provider, model, dimensions or None when unknown, template version) of the active settings."""
    settings = embedding_settings()
    emb = embedder()
    return emb.provider, emb.model, factory.expected_dimensions(settings), settings.template_version


def lookup_model(conn: psycopg.Connection, provider: str, model: str, dimensions: int | None = None,
                 template_version: str | None = None) -> Model | None:
    row = conn.execute(sqlfiles.load("query/model_lookup"), {
        "provider": provider, "model": model, "dimensions": dimensions, "template_version": template_version,
    }).fetchone()
    return Model(int(row[0]), row[1], row[2], int(row[3])) if row else None


def active_text_model(conn: psycopg.Connection) -> Model:
    """The registry entry of the configured text model (never registers one: read commands do not write)."""
    key = (database_key(conn), embedding_settings(), config.api_key_present(embedding_settings()))
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
    found = lookup_model(conn, *COLLABORATIVE) if table_exists(conn, "movrec.embedding_models") else None
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


def vectors_for(conn: psycopg.Connection, kind: str, model_id: int, keys: Iterable[str]) -> dict[str, np.ndarray]:
    """Vectors of some items (missing items are left out)."""
    rows = conn.execute(sqlfiles.load("query/vectors"),
                        {"kind": kind, "model_id": model_id, "keys": list(keys)}, binary=True).fetchall()
    return {key: as_array(vec) for key, vec in rows}


def as_array(vec: object) -> np.ndarray:
    return vec.to_numpy().astype(np.float32) if hasattr(vec, "to_numpy") else np.asarray(vec, dtype=np.float32)


def unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-12 and np.isfinite(norm) else v


@dataclass(frozen=True)
class Neighbours:
    """Result of one kNN query: (item_key, cosine distance) nearest first, and the index that served it."""

    rows: list[tuple[str, float]]
    index: str | None


def knn(conn: psycopg.Connection, kind: str, model: Model, query: np.ndarray, k: int) -> Neighbours:
    """``ORDER BY embedding::vector(d) <=> q LIMIT k`` through the (kind, model) HNSW/IVFFlat index if any.

    ``hnsw.ef_search`` is raised to ``k`` (pgvector caps it at 1000; iterative scans fetch the rest).
    On small catalogues the planner prefers the primary key plus a sort; sorting is switched off for this
    statement when an index exists, so the index answers (the recall check vouches for its quality).
    """
    index = vector_index.current_index(conn, kind, model.model_id)
    vectors.set_search_params(conn, min(k, MAX_K))
    if index:
        conn.execute("SET LOCAL enable_sort = off")
    rows = conn.execute(vectors.knn_query(model.dimensions), {
        "kind": kind, "model_id": model.model_id, "q": np.asarray(query, dtype=np.float32), "k": k}).fetchall()
    if index:
        conn.execute("SET LOCAL enable_sort = on")
    ordered = sorted(((str(key), float(dist)) for key, dist in rows if dist == dist), key=lambda r: r[1])
    return Neighbours(ordered, index)


def index_label(index: str | None) -> str:
    if not index:
        return "exact scan (no vector index for this model)"
    method = "HNSW" if "_hnsw_" in index else "IVFFlat" if "_ivfflat_" in index else "index"
    return f"{method} index {index}"


def ensure_search_objects(conn: psycopg.Connection) -> None:
    """Apply ``sql/search.sql`` (GIN index, movie_stats view) once if missing or outdated.

    The only write a query command may make, in its own short read-write transaction before the read one.
    """
    key = database_key(conn)
    if key in _SEARCH_READY:
        return
    ready = conn.execute(sqlfiles.load("query/search_state"), {"version": SEARCH_VERSION}).fetchone()[0]
    if not ready:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ WRITE")
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('movrec.search'))")
                conn.execute(sqlfiles.load("sources/movielens_search"))
        except psycopg.Error as exc:
            raise QueryError(f"cannot create the search index and movie_stats view: {one_line(exc)}") from None
    _SEARCH_READY.add(key)
