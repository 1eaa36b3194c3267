"""Connections to the warehouse: an external server via ``DATABASE_URL`` or the embedded one."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from movrec_pipeline.core import paths
from movrec_pipeline.core.errors import DatabaseSetupError
from movrec_pipeline.warehouse import embedded, sqlfiles

MIN_PGVECTOR = (0, 8, 4)


_QUERY_PASSWORD = re.compile(r"(?i)(^|&)(password=)[^&]*")
_KEYWORD_PASSWORD = re.compile(r"(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs and messages).

    Covers ``postgresql://user:pw@host/db``, ``...?password=pw`` and libpq ``key=value`` strings.
    """
    if "://" not in url:
        return _KEYWORD_PASSWORD.sub(r"\1***", url)
    parts = urlsplit(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@", 1)
    head, sep, query = url.partition("?")
    return head + sep + _QUERY_PASSWORD.sub(r"\1\2***", query)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server behind ``admin_url`` if it does not exist."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process won the race
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def warehouse_url(url: str | None = None) -> str:
    """``url`` (the ``DATABASE_URL`` setting) if given, else the embedded server's warehouse (started on demand)."""
    if url:
        return url
    ensure_database(embedded.server_uri(), paths.WAREHOUSE_DB)
    return embedded.server_uri(database=paths.WAREHOUSE_DB)


def dagster_storage_url(url: str | None = None) -> str:
    """URL of the Dagster instance database: ``url`` (``MOVREC_DAGSTER_PG_URL``) or the embedded server's."""
    if url:
        return url
    ensure_database(embedded.server_uri(), paths.DAGSTER_DB)
    return embedded.server_uri(database=paths.DAGSTER_DB)


def sqlalchemy_url(url: str) -> str:
    """The URL for SQLAlchemy users (dagster-postgres, GX) with the psycopg2 driver named: SQLAlchemy 2.1's
    default driver for ``postgresql://`` is psycopg 3, which breaks dagster-postgres' ``NOTIFY`` statements."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme):]
    return url


def admin_url_for(url: str) -> str:
    """Same server, maintenance database ``postgres``."""
    return _with_database(url, "postgres")


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def ensure_pgvector(conn: psycopg.Connection) -> str:
    """Create the ``vector`` extension if needed and insist on version >= 0.8.4."""
    row = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if row is None:
        raise DatabaseSetupError(
            "the PostgreSQL server has no pgvector extension: install pgvector >= 0.8.4 on it "
            "(e.g. the postgresql-NN-pgvector package) or unset DATABASE_URL to use the embedded server"
        )
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    installed = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    if parse_version(installed) < MIN_PGVECTOR:
        raise DatabaseSetupError(
            f"pgvector {installed} is too old: version >= 0.8.4 is required (HNSW build and vacuum fixes); "
            "upgrade the package and run ALTER EXTENSION vector UPDATE"
        )
    return installed


def prepare_warehouse(url: str) -> str:
    """Check pgvector and apply ``sql/schema.sql``; returns the pgvector version."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext('movrec.schema'))")
            try:
                version = ensure_pgvector(conn)
                conn.execute(sqlfiles.load("warehouse/schema"))
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('movrec.schema'))")
    except psycopg.OperationalError as exc:
        raise DatabaseSetupError(f"cannot connect to {redact(url)}: {str(exc).strip().splitlines()[0]}") from None
    return version


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg connection with pgvector types registered."""
    from pgvector.psycopg import register_vector

    try:
        conn = psycopg.connect(url, autocommit=autocommit, application_name="movrec")
    except psycopg.OperationalError as exc:
        raise DatabaseSetupError(f"cannot connect to {redact(url)}: {str(exc).strip().splitlines()[0]}") from None
    with conn:
        register_vector(conn)
        yield conn
