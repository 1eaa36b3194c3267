"""What the stored tables hold now: the data versions the assets recorded beside them (``movrec.asset_state``).

Each asset records its data version in the transaction that publishes its tables, so a version read in the same
snapshot as a list names exactly the data the list came from (the HTTP API's strong ETags, cached vocabularies).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from movrec_pipeline.query.session import table_exists
from movrec_pipeline.warehouse import sqlfiles


def data_versions(conn: psycopg.Connection, assets: Sequence[str]) -> dict[str, str]:
    """asset -> recorded data version, for those of ``assets`` that recorded one (run inside a transaction to
    read the same snapshot as what follows)."""
    if not table_exists(conn, "movrec.asset_state"):
        return {}
    rows = conn.execute(sqlfiles.load("query/data_versions"), {"assets": list(assets)}).fetchall()
    return {asset: version for asset, version, _ in rows}
