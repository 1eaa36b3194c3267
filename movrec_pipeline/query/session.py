"""Read-only sessions on the warehouse and the "materialize X first" checks of the query commands."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass

import psycopg
from psycopg import pq, sql

from movrec_pipeline.core import paths, settings
from movrec_pipeline.query.errors import DatabaseError, NotMaterializedError, QueryError, UnavailableError
from movrec_pipeline.warehouse import connection, embedded

MAX_K = 1000
_URLS: dict[str, str] = {}
_KEYS: weakref.WeakKeyDictionary[psycopg.Connection, str] = weakref.WeakKeyDictionary()
_READ_ONLY: weakref.WeakKeyDictionary[psycopg.Connection, bool] = weakref.WeakKeyDictionary()
_SATISFIED: set[tuple[str, str]] = set()


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
# users' rating counts: published with the ratings, in the same transaction (a warehouse from before it asks
# for the ratings to be materialized again)
RATINGS = Need("movielens_ratings", "movrec.user_stats", "no MovieLens ratings")
CUSTOMER_RECS = Need("customer_netflix_recommendations", "movrec.customer_netflix_recommendations",
                     "no recommendations")
USER_RECS = Need("movielens_user_recommendations", "movrec.movielens_user_recommendations",
                 "no MovieLens recommendations")
SIMILAR = Need("movielens_similar_movies", "movrec.movielens_similar_movies", "no similar-movie lists")
VECTORS = Need("the embedding assets", "movrec.item_embeddings", "no vectors")
NOTHING = Need("the whole graph", "movrec.item_embeddings", "nothing materialized")
VECTOR_ASSETS = {"film": "film_embeddings", "netflix": "netflix_embeddings",
                 "movielens": "movielens_movie_embeddings"}


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class WarehouseMissing(Exception):
    """The embedded server runs but has no warehouse database yet."""


def warehouse_url() -> str:
    """``$DATABASE_URL``, else the embedded warehouse — without creating it when it does not exist."""
    url = settings.secret("DATABASE_URL")
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
            raise UnavailableError(f"cannot connect to the embedded PostgreSQL: {one_line(exc)}") from None
        if not found:
            raise WarehouseMissing
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
    except WarehouseMissing:
        raise NotMaterializedError(need.message()) from None
    try:
        conn = psycopg.connect(url, autocommit=True, prepare_threshold=None, application_name="movrec-query",
                               options="-c default_transaction_read_only=on")
    except psycopg.OperationalError as exc:
        raise UnavailableError(f"cannot connect to {connection.redact(url)}: {one_line(exc)}") from None
    with conn:
        if conn.execute("SELECT to_regtype('vector') IS NULL").fetchone()[0]:
            raise NotMaterializedError(need.message())
        register_vector(conn)
        yield conn


@contextmanager
def session(conn: psycopg.Connection | None, *needs: Need, snapshot: bool = True) -> Iterator[psycopg.Connection]:
    """One read-only transaction on ``conn`` (or a new connection) after checking ``needs`` have rows.

    ``snapshot=False`` is for a caller that reads with one statement (a stored list): on a connection whose
    transactions are read-only anyway, no BEGIN/COMMIT round trips are spent around it.

    Database errors inside become a one-line :class:`UnavailableError` (connection, timeout) or
    :class:`DatabaseError`.
    """
    with ExitStack() as stack:
        if conn is None:
            conn = stack.enter_context(connect(needs[0] if needs else None))
        try:
            # inside the caller's transaction (one snapshot for a data version and a list): no savepoint needed
            joined = conn.info.transaction_status == pq.TransactionStatus.INTRANS
            bare = joined or (not snapshot and conn.autocommit and _read_only_by_default(conn))
            with nullcontext() if bare else conn.transaction():
                if not _read_only_by_default(conn):
                    conn.execute("SET TRANSACTION READ ONLY")
                for need in needs:
                    require(conn, need)
                yield conn
        except psycopg.OperationalError as exc:  # connection lost, statement timeout, server shutting down
            raise UnavailableError(f"database error: {one_line(exc)}") from None
        except psycopg.Error as exc:
            raise DatabaseError(f"database error: {one_line(exc)}") from None


def _read_only_by_default(conn: psycopg.Connection) -> bool:
    """Whether the connection's transactions are read-only anyway (``connect()`` and the pool set it): then no
    ``SET TRANSACTION READ ONLY`` round trip per call. Asked once per connection."""
    if conn not in _READ_ONLY:
        _READ_ONLY[conn] = conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
    return _READ_ONLY[conn]


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


def check_page(k: int, offset: int = 0) -> int:
    """The depth ``offset + k`` of a page of ``k`` results after ``offset``; results are ranked ``MAX_K`` deep."""
    check_k(k)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise QueryError(f"offset must be a whole number >= 0, got {offset!r}")
    if offset + k > MAX_K:
        raise QueryError(f"offset + k must be at most {MAX_K}, got {offset} + {k}: results are ranked {MAX_K} deep")
    return offset + k
