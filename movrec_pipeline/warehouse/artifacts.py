"""Fitted models kept in the warehouse, so any process (a run worker, a distributed executor's worker, another
machine) can load what one step fitted: NumPy arrays stored as ``bytea`` parts of 64 MB (no Dagster)."""

from __future__ import annotations

import json

import numpy as np
import psycopg

from movrec_pipeline.warehouse import sqlfiles

PART_BYTES = 64 << 20
_CACHE: dict[tuple[str, str, str], tuple[dict[str, np.ndarray], dict]] = {}


def save(conn: psycopg.Connection, name: str, fingerprint: str, arrays: dict[str, np.ndarray], meta: dict) -> int:
    """Replace artifact ``name`` in one transaction; returns the bytes stored."""
    layout = {key: {"dtype": a.dtype.str, "shape": list(a.shape)} for key, a in arrays.items()}
    header = json.dumps({"meta": meta, "layout": layout}).encode()
    stored = 0
    with conn.transaction():
        conn.execute(sqlfiles.load("warehouse/artifact_delete"), {"name": name})
        insert = sqlfiles.load("warehouse/artifact_insert")
        conn.execute(insert, {"name": name, "fingerprint": fingerprint, "array": "", "part": 0, "payload": header})
        for key, array in arrays.items():
            view = memoryview(np.ascontiguousarray(array)).cast("B")
            for part, start in enumerate(range(0, max(len(view), 1), PART_BYTES)):
                chunk = view[start:start + PART_BYTES]
                conn.execute(insert, {"name": name, "fingerprint": fingerprint, "array": key, "part": part,
                                      "payload": bytes(chunk)})
                stored += len(chunk)
    return stored


def fingerprint_of(conn: psycopg.Connection, name: str) -> str | None:
    row = conn.execute(sqlfiles.load("warehouse/artifact_fingerprint"), {"name": name}).fetchone()
    return row[0] if row else None


def load(conn: psycopg.Connection, name: str) -> tuple[str, dict[str, np.ndarray], dict]:
    """(fingerprint, arrays, meta) of artifact ``name``; the last one loaded is kept per process."""
    fingerprint = fingerprint_of(conn, name)
    if fingerprint is None:
        raise LookupError(f"no artifact {name!r} in movrec.model_artifacts")
    key = (conn.info.dsn, name, fingerprint)
    if key not in _CACHE:
        _CACHE.clear()  # one model at a time: they are large
        _CACHE[key] = _read(conn, name)
    arrays, meta = _CACHE[key]
    return fingerprint, arrays, meta


def _read(conn: psycopg.Connection, name: str) -> tuple[dict[str, np.ndarray], dict]:
    with conn.cursor(binary=True) as cur:
        cur.execute(sqlfiles.load("warehouse/artifact_header"), {"name": name})
        header = json.loads(bytes(cur.fetchone()[0]))
        arrays = {}
        for key, spec in header["layout"].items():
            out = np.empty(spec["shape"], dtype=np.dtype(spec["dtype"]))
            target = memoryview(out.reshape(-1).view(np.uint8)) if out.size else memoryview(bytearray())
            offset = 0
            cur.execute(sqlfiles.load("warehouse/artifact_parts"), {"name": name, "array": key})
            for (payload,) in cur:
                data = bytes(payload)
                target[offset:offset + len(data)] = data
                offset += len(data)
            arrays[key] = out
    return arrays, header["meta"]
