"""What the pipeline has materialized: per source and model, per derived table, and the latest quality."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from movrec_pipeline import settings, vector_index
from movrec_pipeline.db import embedded, sqlfiles
from movrec_pipeline.errors import MovrecError
from movrec_pipeline.query import db
from movrec_pipeline.query.errors import NotMaterializedError
from movrec_pipeline.query.results import SourceStatus, Status, TableStatus

SOURCE_TABLES = {"film": ("dvdrental", "film"), "netflix": ("netflix", "shows"),
                 "movielens": ("movielens", "movies")}
COLLABORATIVE_ASSET = "movielens_collaborative_vectors"
TABLES = [  # asset, table, timestamp column (None: when the asset last rebuilt, from movrec.asset_state)
    ("customer_profiles", ("movrec", "customer_profiles"), "updated_at"),
    ("customer_netflix_recommendations", ("movrec", "customer_netflix_recommendations"), "generated_at"),
    ("movielens_user_recommendations", ("movrec", "movielens_user_recommendations"), "generated_at"),
    ("movielens_similar_movies", ("movrec", "movielens_similar_movies"), None),
    ("recommendation_quality", ("movrec", "recommendation_quality"), "evaluated_at"),
]


def _embedded_instance_url() -> str | None:
    """URL of the embedded server's Dagster database if it exists (never creates it)."""
    from movrec_pipeline.launcher import sqlalchemy_psycopg2

    with psycopg.connect(embedded.server_uri(), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.DAGSTER_DB,)).fetchone()
    return sqlalchemy_psycopg2(embedded.server_uri(database=settings.DAGSTER_DB)) if found else None


@contextmanager
def _instance_environment() -> Iterator[bool]:
    """DAGSTER_HOME (and the instance database URL) as ``movrec dev``/``materialize`` set them, while inside.

    True when an instance can be opened: DAGSTER_HOME is set, or the launcher left ``$MOVREC_HOME/
    dagster_home/dagster.yaml`` behind and its database exists.
    """
    if os.environ.get("DAGSTER_HOME"):
        yield True
        return
    home = settings.dagster_home()
    url = os.environ.get("MOVREC_DAGSTER_PG_URL")
    if (home / "dagster.yaml").exists() and not url:
        url = _embedded_instance_url()
    if not (home / "dagster.yaml").exists() or not url:
        yield False
        return
    saved = {name: os.environ.get(name) for name in ("DAGSTER_HOME", "MOVREC_DAGSTER_PG_URL")}
    os.environ.update(DAGSTER_HOME=str(home), MOVREC_DAGSTER_PG_URL=url)
    try:
        yield True
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dagster_times(assets: list[str]) -> dict[str, datetime] | None:
    """Latest materialization per asset from the Dagster instance; None without a reachable one."""
    try:
        with _instance_environment() as available:
            if not available:
                return None
            import dagster as dg

            with dg.DagsterInstance.get() as instance:
                times = {}
                for asset in assets:
                    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
                    if event is not None:
                        times[asset] = datetime.fromtimestamp(event.timestamp, UTC)
                return times
    except Exception:  # status must work without a reachable instance: fall back to table timestamps
        return None


def _count(conn: psycopg.Connection, table: tuple[str, str]) -> int:
    if not db.table_exists(conn, ".".join(table)):
        return 0
    query = sql.SQL(sqlfiles.load("query_table_count")).format(table=sql.Identifier(*table))
    return int(conn.execute(query).fetchone()[0])


def _active(conn: psycopg.Connection, notes: list[str]) -> db.Model | None:
    try:
        return db.active_text_model(conn)
    except MovrecError as exc:
        notes.append(str(exc))
        return None


def status(*, conn: psycopg.Connection | None = None) -> Status:
    """Items, vectors, coverage, index and last materialization per source and model; table rows; quality."""
    with db.session(conn) as c:
        if not db.table_exists(c, "movrec.item_embeddings"):
            raise NotMaterializedError(db.NOTHING.message())
        notes: list[str] = []
        active = _active(c, notes)
        assets = [*db.VECTOR_ASSETS.values(), COLLABORATIVE_ASSET, *(t[0] for t in TABLES)]
        times = dagster_times(assets)
        if times is None:
            notes.append("last materialization from table timestamps (no Dagster instance found)")
        sources = _sources(c, active, times or {})
        tables = _tables(c, times or {})
        quality = _quality(c)
        database = f"{c.info.dbname} on {c.info.host}"
    return Status(database=database, active_model=active.label if active else None, sources=sources,
                  tables=tables, quality=quality, notes=notes)


def _quality(conn: psycopg.Connection) -> list[dict[str, object]]:
    """Every method's row of the latest evaluation."""
    if not db.table_exists(conn, "movrec.recommendation_quality"):
        return []
    cur = conn.execute(sqlfiles.load("query_status_quality"))
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _sources(conn: psycopg.Connection, active: db.Model | None, times: dict[str, datetime]) -> list[SourceStatus]:
    rows = conn.execute(sqlfiles.load("query_status_vectors")).fetchall()
    indexes = conn.execute(sqlfiles.load("query_status_indexes")).fetchall()
    items = {kind: _count(conn, table) for kind, table in SOURCE_TABLES.items()}
    seen = {(r[0], int(r[1])) for r in rows}
    if active:  # kinds the active model has not embedded yet show up with 0 vectors
        rows += [(kind, active.model_id, active.provider, active.name, active.dimensions, 0, None)
                 for kind in SOURCE_TABLES if (kind, active.model_id) not in seen]
    out = []
    for kind, model_id, provider, name, dims, n, embedded_at in sorted(rows, key=lambda r: (r[0], r[1])):
        model = db.Model(int(model_id), provider, name, int(dims))
        asset = COLLABORATIVE_ASSET if provider == db.COLLABORATIVE[0] else db.VECTOR_ASSETS.get(kind, kind)
        index = next((r for r in indexes if r[0].startswith(vector_index.index_prefix(kind, model.model_id))), None)
        total = items.get(kind, 0)
        when, origin = (times[asset], "dagster") if asset in times else (embedded_at, "embedded_at")
        out.append(SourceStatus(
            source=kind, model=model.label, model_id=model.model_id,
            active=bool(active and active.model_id == model.model_id), items=total, vectors=int(n),
            coverage_pct=round(100.0 * n / total, 1) if total else 0.0, index=index[0] if index else None,
            index_method=index[1] if index else None, last_materialized=when, materialized_from=origin))
    return out


def _tables(conn: psycopg.Connection, times: dict[str, datetime]) -> list[TableStatus]:
    built = dict(conn.execute(sqlfiles.load("query_asset_state")).fetchall()) if db.table_exists(
        conn, "movrec.asset_state") else {}
    out = []
    for asset, table, column in TABLES:
        rows, when, origin = 0, None, column or "asset_state"
        if db.table_exists(conn, ".".join(table)):
            query = sql.SQL(sqlfiles.load("query_table_stats")).format(
                column=sql.Identifier(column) if column else sql.SQL("NULL::timestamptz"),
                table=sql.Identifier(*table))
            rows, when = conn.execute(query).fetchone()
        if column is None:
            when = built.get(asset)
        if asset in times:
            when, origin = times[asset], "dagster"
        out.append(TableStatus(asset=asset, table=".".join(table), rows=int(rows), last_materialized=when,
                               materialized_from=origin))
    return out
