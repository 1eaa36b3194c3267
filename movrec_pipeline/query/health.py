"""Is the warehouse ready to answer every query: database, materialized tables, embedding models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.query.models import active_text_model, collaborative_model, require_vectors
from movrec_pipeline.query.session import (
    CUSTOMER_RECS,
    DVDRENTAL,
    MOVIES,
    RATINGS,
    SHOWS,
    SIMILAR,
    USER_RECS,
    VECTORS,
    require,
    session,
)

TABLES = (DVDRENTAL, SHOWS, MOVIES, RATINGS, VECTORS, CUSTOMER_RECS, USER_RECS, SIMILAR)


@dataclass
class Readiness:
    """Each check's outcome: ``ok`` (or the model's label), else the one-line reason; the names of failed ones."""

    ready: bool
    checks: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def readiness(*, conn: psycopg.Connection | None = None) -> Readiness:
    """Database reachable, every table the queries read materialized, the text and collaborative models present."""
    checks: dict[str, str] = {}
    failed: list[str] = []

    def check(name: str, fn: Callable[[], str | None]) -> None:
        try:
            checks[name] = fn() or "ok"
        except MovrecError as exc:
            failed.append(name)
            checks[name] = str(exc)

    try:
        with session(conn) as c:
            checks["database"] = "ok"
            for need in TABLES:
                check(need.table, lambda need=need: require(c, need))
            check("text model", lambda: _text_model(c))
            check("collaborative model", lambda: collaborative_model(c).label)
    except MovrecError as exc:
        return Readiness(False, {"database": str(exc)}, ["database"])
    return Readiness(not failed, checks, failed)


def _text_model(conn: psycopg.Connection) -> str:
    model = active_text_model(conn)
    for kind in ("film", "netflix", "movielens"):
        require_vectors(conn, kind, model)
    return model.label
