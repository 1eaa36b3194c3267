"""A pool of read-only warehouse connections for long-running readers (the HTTP API), via ``psycopg_pool``.

Connections are the ones :func:`movrec_pipeline.query.connect` makes (autocommit, read-only by default, pgvector
types), plus a statement timeout and repeatable-read transactions: every call of a query function then reads one
snapshot, and a caller may read a version stamp and a list in one transaction (strong ETags).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from movrec_pipeline.query.errors import DatabaseError, NotMaterializedError, UnavailableError
from movrec_pipeline.query.session import NOTHING, WarehouseMissing, one_line, warehouse_url

_VECTOR_READY: weakref.WeakSet[psycopg.Connection] = weakref.WeakSet()


def _configure(conn: psycopg.Connection) -> None:
    _register_vector(conn)


def _register_vector(conn: psycopg.Connection) -> None:
    """pgvector's types on ``conn`` once the extension exists (a pool may open before the first materialization)."""
    if conn in _VECTOR_READY:
        return
    from pgvector.psycopg import register_vector

    if conn.execute("SELECT to_regtype('vector') IS NOT NULL").fetchone()[0]:
        register_vector(conn)
        _VECTOR_READY.add(conn)


def open_pool(*, min_size: int, max_size: int, timeout_s: float, statement_timeout_ms: int,
              name: str = "movrec-api") -> ConnectionPool:
    """An opened pool on the warehouse; raises :class:`NotMaterializedError` when it does not exist yet."""
    try:
        url = warehouse_url()
    except WarehouseMissing:
        raise NotMaterializedError(NOTHING.message()) from None
    options = (f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)} "
               "-c default_transaction_isolation=repeatable\\ read")
    pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=False, timeout=timeout_s, name=name,
                          configure=_configure, kwargs={"autocommit": True, "prepare_threshold": None,
                                                        "application_name": name, "options": options})
    pool.open(wait=False)
    return pool


@contextmanager
def pooled(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """A connection of ``pool`` (pgvector types registered); pool exhaustion and lost servers are
    :class:`UnavailableError`."""
    try:
        with pool.connection() as conn:
            _register_vector(conn)
            yield conn
    except PoolTimeout:
        raise UnavailableError(f"no database connection free within {pool.timeout:g} s") from None
    except psycopg.OperationalError as exc:
        raise UnavailableError(f"database unavailable: {one_line(exc)}") from None
    except psycopg.Error as exc:
        raise DatabaseError(f"database error: {one_line(exc)}") from None
