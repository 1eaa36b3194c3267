"""What a published table was built from: data versions recorded beside the tables, and content digests.

The Dagster assets decide whether to rebuild from Dagster's own data versions (``defs/versions.py``); the
warehouse keeps, in ``movrec.asset_state``, the data version and time of the materialization that wrote each
table, so readers without Dagster (the CLI's ``status``, the HTTP API's ETags) can tell when a table changed.
"""

from __future__ import annotations

import hashlib
import json

import psycopg

from movrec_pipeline.warehouse import sqlfiles


def combine(*parts: object) -> str:
    """One digest of input versions and settings (anything JSON-serialisable)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def vectors(conn: psycopg.Connection, kind: str, model_id: int, buckets: list[int] | None = None) -> str:
    """Digest of the vectors of one kind and model (of some buckets): which items, embedded from which text."""
    row = conn.execute(sqlfiles.load("warehouse/fingerprint_vectors"),
                       {"kind": kind, "model_id": model_id, "buckets": buckets})
    return row.fetchone()[0]


def warehouse_identity(conn: psycopg.Connection) -> str:
    """Which database this is (cluster id and database oid): a new or restored warehouse has another."""
    return conn.execute(sqlfiles.load("warehouse/identity")).fetchone()[0]


def record(conn: psycopg.Connection, asset: str, version: str) -> None:
    """Record the data version a table now holds (call inside the transaction that publishes it)."""
    conn.execute(sqlfiles.load("warehouse/fingerprint_record"), {"asset": asset, "fingerprint": version})


def recorded(conn: psycopg.Connection, asset: str) -> str | None:
    row = conn.execute(sqlfiles.load("warehouse/fingerprint_of"), {"asset": asset}).fetchone()
    return None if row is None else row[0]
