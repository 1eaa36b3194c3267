"""What the stored tables hold now: the data versions the assets recorded beside them (``movrec.asset_state``).

Each asset records its data version in the transaction that publishes its tables, so a version read in the same
snapshot as a list names exactly the data the list came from (the HTTP API's strong ETags, cached vocabularies).
"""

from __future__ import annotations

from collections.abc import Sequence

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
    rows = conn.execute(sqlfiles.load("query/data_versions"), {"assets": names, "patterns": patterns}).fetchall()
    return {asset: version for asset, version, _ in rows}
