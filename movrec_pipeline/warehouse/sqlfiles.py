"""Named SQL files from the project's ``sql/`` folder."""

from __future__ import annotations

from functools import cache

from psycopg import sql

from movrec_pipeline.core import paths


@cache
def load(name: str) -> str:
    """Text of ``sql/<stage>/<name>.sql``, named ``"<stage>/<name>"``."""
    for folder in (paths.PACKAGE_DIR / "_sql", paths.SQL_DIR):
        path = folder / f"{name}.sql"
        if path.exists():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"sql/{name}.sql not found (is the project installed with its sql/ folder?)")


def composed(name: str, **identifiers: str | tuple[str, ...]) -> sql.Composed:
    """``sql/<stage>/<name>.sql`` with ``{placeholders}`` filled by quoted identifiers (never f-strings);
    a tuple is a qualified name, e.g. ``("movrec", "quarantine")``."""
    return sql.SQL(load(name)).format(**{
        k: sql.Identifier(*v) if isinstance(v, tuple) else sql.Identifier(v) for k, v in identifiers.items()})
