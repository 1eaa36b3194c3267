"""Answering a route: run a query function on a pooled connection, serialise its dataclass, ETag stored lists."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from decimal import Decimal

import orjson
import psycopg
from fastapi import Request
from starlette.responses import Response

from movrec_pipeline.api import etag
from movrec_pipeline.api.db import Database
from movrec_pipeline.query import data_versions
from movrec_pipeline.query.versions import select_versions

JSON = "application/json"


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(result: object) -> bytes:
    """JSON of a query result (dataclasses as ``dataclasses.asdict``; times in ISO 8601, as ``movrec --json``)."""
    return orjson.dumps(result, default=_default)


def settings_salt() -> str:
    """What besides the tables decides a body in this process: the text model settings (part of the ETag)."""
    from movrec_pipeline.query.models import embedding_settings

    return hashlib.sha256(embedding_settings().model_dump_json().encode()).hexdigest()[:16]


async def answer(request: Request, call: Callable[[psycopg.Connection], object], *,
                 versioned: Sequence[str] = (), status_code: int = 200,
                 shape: Callable[[object], object] | None = None) -> Response:
    """``call(conn)`` as JSON. With ``versioned`` assets the answer carries a strong ETag of their data versions read
    (the listener's copy, else read in the list's snapshot), and a matching ``If-None-Match`` gets 304 without
    reading the list."""
    db: Database = request.app.state.db
    if not versioned:
        result = await db.run(call)
        return Response(dumps(shape(result) if shape else result), status_code=status_code, media_type=JSON)
    key = etag.request_key(request.method, request.url.path, request.query_params.multi_items())
    salt = request.app.state.salt
    wanted = request.headers.get("if-none-match")
    known = db.versions.current()
    if known is not None:  # the listener's copy, read before the list: a list is never older than its tag
        tag = etag.tag(key, select_versions(known, versioned), versioned, salt)
        if wanted and tag is not None and etag.matches(wanted, tag):
            return Response(status_code=304, headers={"ETag": tag, "Cache-Control": "no-cache"})
        result = await db.run(call)
    else:
        result, tag = await db.run(lambda conn: _read_versioned(conn, call, key, versioned, salt, wanted))
    headers = {"ETag": tag, "Cache-Control": "no-cache"} if tag else {"Cache-Control": "no-cache"}
    if result is None:
        return Response(status_code=304, headers=headers)
    return Response(dumps(shape(result) if shape else result), status_code=status_code, media_type=JSON,
                    headers=headers)


def _read_versioned(conn: psycopg.Connection, call: Callable[[psycopg.Connection], object], key: str,
                    versioned: Sequence[str], salt: str, wanted: str | None) -> tuple[object | None, str | None]:
    """Without the listener's copy: the versions from the database, in the list's snapshot (None: a 304)."""
    if wanted:  # a 304 needs the versions only: one statement, one snapshot, no BEGIN/COMMIT round trips
        tag = etag.tag(key, data_versions(conn, versioned), versioned, salt)
        if tag is not None and etag.matches(wanted, tag):
            return None, tag
    with conn.transaction():  # repeatable read: the versions and the list come from one snapshot
        tag = etag.tag(key, data_versions(conn, versioned), versioned, salt)
        return call(conn), tag
