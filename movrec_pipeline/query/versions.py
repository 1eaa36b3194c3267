"""What the stored tables hold now: the data versions the assets recorded beside them (``movrec.asset_state``).

Each asset records its data version in the transaction that publishes its tables, so a version read in the same
snapshot as a list names exactly the data the list came from (the HTTP API's strong ETags, cached vocabularies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg

from movrec_pipeline.query.session import database_key, table_exists
from movrec_pipeline.warehouse import sqlfiles

_HAS_STATE: set[str] = set()  # databases known to have movrec.asset_state (created with the schema, never dropped)


def data_versions(conn: psycopg.Connection, assets: Sequence[str]) -> dict[str, str]:
    """asset -> recorded data version, for those of ``assets`` that recorded one; ``"name/*"`` stands for every
    record of a partitioned asset (``name/b00`` …). Run inside a transaction to read the same snapshot as what
    follows."""
    key = database_key(conn)
    if key not in _HAS_STATE:
        if not table_exists(conn, "movrec.asset_state"):
            return {}
        _HAS_STATE.add(key)
    names = [a for a in assets if not a.endswith("/*")]
    patterns = [a[:-1].replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
                for a in assets if a.endswith("/*")]
    return _read(conn, names, patterns)


def all_data_versions(conn: psycopg.Connection) -> dict[str, str]:
    """Every recorded data version (asset -> version); {} on a warehouse without ``movrec.asset_state``."""
    if not table_exists(conn, "movrec.asset_state"):
        return {}
    return _read(conn, [], ["%"])


def listen_for_versions(conn: psycopg.Connection) -> None:
    """Subscribe ``conn`` (autocommit) to the notices of new data versions (``conn.notifies()``)."""
    conn.execute(sqlfiles.load("query/listen_versions"))


def select_versions(versions: Mapping[str, str], assets: Sequence[str]) -> dict[str, str]:
    """What :func:`data_versions` reads for ``assets``, taken from a copy of all versions (the API's cache)."""
    names = {a for a in assets if not a.endswith("/*")}
    prefixes = tuple(a[:-1] for a in assets if a.endswith("/*"))
    return {a: v for a, v in sorted(versions.items()) if a in names or (prefixes and a.startswith(prefixes))}


def _read(conn: psycopg.Connection, names: list[str], patterns: list[str]) -> dict[str, str]:
    rows = conn.execute(sqlfiles.load("query/data_versions"), {"assets": names, "patterns": patterns}).fetchall()
    return {asset: version for asset, version, _ in rows}
