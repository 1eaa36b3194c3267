"""What the pipeline has materialized: per source and model, per derived table, and the latest quality."""

from __future__ import annotations

import psycopg
from psycopg import sql

from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.query.errors import NotMaterializedError
from movrec_pipeline.query.models import Model, active_text_model
from movrec_pipeline.query.results import SourceStatus, Status, TableStatus
from movrec_pipeline.query.session import NOTHING, session, table_exists
from movrec_pipeline.warehouse import sqlfiles, vector_index

SOURCE_TABLES = {"film": ("dvdrental", "film"), "netflix": ("netflix", "shows"),
                 "movielens": ("movielens", "movies")}
TABLES = [  # asset, table, timestamp column (None: when the asset last rebuilt, from movrec.asset_state)
    ("customer_profiles", ("movrec", "customer_profiles"), "updated_at"),
    ("customer_netflix_recommendations", ("movrec", "customer_netflix_recommendations"), "generated_at"),
    ("movielens_user_recommendations", ("movrec", "movielens_user_recommendations"), "generated_at"),
    ("movielens_similar_movies", ("movrec", "movielens_similar_movies"), None),
    ("recommendation_quality", ("movrec", "recommendation_quality"), "evaluated_at"),
]


def _count(conn: psycopg.Connection, table: tuple[str, str]) -> int:
    if not table_exists(conn, ".".join(table)):
        return 0
    query = sql.SQL(sqlfiles.load("query/table_count")).format(table=sql.Identifier(*table))
    return int(conn.execute(query).fetchone()[0])


def _active(conn: psycopg.Connection, notes: list[str]) -> Model | None:
    try:
        return active_text_model(conn)
    except MovrecError as exc:
        notes.append(str(exc))
        return None


def status(*, conn: psycopg.Connection | None = None) -> Status:
    """Items, vectors, coverage, index and last materialization per source and model; table rows; quality."""
    with session(conn) as c:
        if not table_exists(c, "movrec.item_embeddings"):
            raise NotMaterializedError(NOTHING.message())
        notes: list[str] = []
        active = _active(c, notes)
        sources = _sources(c, active)
        tables = _tables(c)
        quality = _quality(c)
        database = f"{c.info.dbname} on {c.info.host}"
    return Status(database=database, active_model=active.label if active else None, sources=sources,
                  tables=tables, quality=quality, notes=notes)


def _quality(conn: psycopg.Connection) -> list[dict[str, object]]:
    """Every method's row of the latest evaluation."""
    if not table_exists(conn, "movrec.recommendation_quality"):
        return []
    cur = conn.execute(sqlfiles.load("query/status_quality"))
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _sources(conn: psycopg.Connection, active: Model | None) -> list[SourceStatus]:
    rows = conn.execute(sqlfiles.load("query/status_vectors")).fetchall()
    indexes = conn.execute(sqlfiles.load("query/status_indexes")).fetchall()
    items = {kind: _count(conn, table) for kind, table in SOURCE_TABLES.items()}
    seen = {(r[0], int(r[1])) for r in rows}
    if active:  # kinds the active model has not embedded yet show up with 0 vectors
        rows += [(kind, active.model_id, active.provider, active.name, active.dimensions, 0, None)
                 for kind in SOURCE_TABLES if (kind, active.model_id) not in seen]
    out = []
    for kind, model_id, provider, name, dims, n, embedded_at in sorted(rows, key=lambda r: (r[0], r[1])):
        model = Model(int(model_id), provider, name, int(dims))
        index = next((r for r in indexes if r[0].startswith(vector_index.index_prefix(kind, model.model_id))), None)
        total = items.get(kind, 0)
        out.append(SourceStatus(
            source=kind, model=model.label, model_id=model.model_id,
            active=bool(active and active.model_id == model.model_id), items=total, vectors=int(n),
            coverage_pct=round(100.0 * n / total, 1) if total else 0.0, index=index[0] if index else None,
            index_method=index[1] if index else None, last_materialized=embedded_at, materialized_from="embedded_at"))
    return out


def _tables(conn: psycopg.Connection) -> list[TableStatus]:
    built = dict(conn.execute(sqlfiles.load("query/asset_state")).fetchall()) if table_exists(
        conn, "movrec.asset_state") else {}
    out = []
    for asset, table, column in TABLES:
        rows, when, origin = 0, None, column or "asset_state"
        if table_exists(conn, ".".join(table)):
            query = sql.SQL(sqlfiles.load("query/table_stats")).format(
                column=sql.Identifier(column) if column else sql.SQL("NULL::timestamptz"),
                table=sql.Identifier(*table))
            rows, when = conn.execute(query).fetchone()
        if column is None:
            when = built.get(asset)
        out.append(TableStatus(asset=asset, table=".".join(table), rows=int(rows), last_materialized=when,
                               materialized_from=origin))
    return out
