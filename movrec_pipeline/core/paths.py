"""Where the project keeps its files, read from the environment (no Dagster here)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROJECT_DIR = PACKAGE_DIR.parent
SQL_DIR = PROJECT_DIR / "sql"

WAREHOUSE_DB = "movrec"
DAGSTER_DB = "dagster"


def movrec_home() -> Path:
    """Project-local state (embedded PostgreSQL data, Dagster home, download cache): ``MOVREC_HOME``."""
    return Path(os.environ.get("MOVREC_HOME") or PROJECT_DIR / ".movrec").resolve()


def data_dir() -> Path:
    """Directory holding the source files: ``MOVREC_DATA_DIR``, else ``$MOVREC_HOME/data``."""
    return Path(os.environ.get("MOVREC_DATA_DIR") or movrec_home() / "data").resolve()


def download_cache_dir() -> Path:
    return movrec_home() / "downloads"


def pgdata_dir() -> Path:
    return movrec_home() / "pgdata"


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or movrec_home() / "dagster_home").resolve()
