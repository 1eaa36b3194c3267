"""Named SQL files from the project's ``sql/`` folder."""

from __future__ import annotations

from functools import cache

from psycopg import sql

from movrec_pipeline import settings


@cache
def load(name: str) -> str:
    """Text of ``sql/<name>.sql``."""
    for folder in (settings.PACKAGE_DIR / "_sql", settings.SQL_DIR):
        path = folder / f"{name}.sql"
        if path.exists():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"sql/{name}.sql not found (is the project installed with its sql/ folder?)")


def composed(name: str, **identifiers: str) -> sql.Composed:
    """``sql/<name>.sql`` with ``{placeholders}`` filled by quoted identifiers (never f-strings)."""
    return sql.SQL(load(name)).format(**{k: sql.Identifier(v) for k, v in identifiers.items()})
