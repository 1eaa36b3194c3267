"""Input fingerprints: skip rebuilding a derived table when nothing it is built from has changed."""

from __future__ import annotations

import hashlib
import json

import psycopg

from movrec_pipeline.warehouse import sqlfiles


def vectors(conn: psycopg.Connection, kind: str, model_id: int) -> str:
    row = conn.execute(sqlfiles.load("warehouse/fingerprint_vectors"), {"kind": kind, "model_id": model_id})
    return row.fetchone()[0]


def ratings(conn: psycopg.Connection) -> str:
    """The MovieLens tables' fingerprint: the inputs of their last publish (one row lookup, whatever the size);
    a warehouse loaded before write-audit-publish falls back to an md5 over every rating."""
    published = conn.execute(sqlfiles.load("warehouse/fingerprint_of"), {"asset": "movielens"}).fetchone()
    if published is not None:
        return f"published:{published[0]}"
    return conn.execute(sqlfiles.load("warehouse/fingerprint_ratings")).fetchone()[0]


def rentals(conn: psycopg.Connection) -> str:
    return conn.execute(sqlfiles.load("warehouse/fingerprint_rentals")).fetchone()[0]


def combine(*parts: object) -> str:
    """One fingerprint from input fingerprints and settings (anything JSON-serialisable)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def is_current(conn: psycopg.Connection, asset: str, fingerprint: str) -> bool:
    row = conn.execute(sqlfiles.load("warehouse/fingerprint_of"), {"asset": asset}).fetchone()
    return row is not None and row[0] == fingerprint


def record(conn: psycopg.Connection, asset: str, fingerprint: str) -> None:
    """Remember the inputs of a successful build (call inside the build's transaction)."""
    conn.execute(sqlfiles.load("warehouse/fingerprint_record"), {"asset": asset, "fingerprint": fingerprint})
