"""Build pgvector indexes (HNSW or IVFFlat) per item kind and model without leaving readers unindexed."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from movrec_pipeline.errors import MovrecError


@dataclass(frozen=True)
class IndexSpec:
    method: str = "hnsw"  # or "ivfflat"
    m: int = 16
    ef_construction: int = 64
    lists: int = 0  # 0 = from the row count (pgvector README: rows/1000 up to 1M rows, sqrt(rows) above)

    def lists_for(self, rows: int) -> int:
        if self.lists:
            return self.lists
        return max(1, rows // 1000) if rows <= 1_000_000 else int(math.sqrt(rows))


def index_prefix(kind: str, model_id: int) -> str:
    return f"item_emb_{kind}_m{model_id}_"


def current_index(conn: psycopg.Connection, kind: str, model_id: int) -> str | None:
    """Name of the valid index of (kind, model), if one exists."""
    row = conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'movrec' AND i.indisvalid "
        "AND c.relname LIKE %s ORDER BY c.relname DESC LIMIT 1", (index_prefix(kind, model_id) + "%",)).fetchone()
    return row[0] if row else None


def build_index(conn: psycopg.Connection, kind: str, model_id: int, dimensions: int,
                spec: IndexSpec) -> dict[str, object]:
    """CREATE INDEX CONCURRENTLY a new partial expression index, then drop the older ones.

    ``conn`` must be in autocommit mode (CONCURRENTLY cannot run in a transaction).
    """
    if spec.method not in ("hnsw", "ivfflat"):
        raise MovrecError(f"unknown index method {spec.method!r}: set index_method to hnsw or ivfflat")
    rows = conn.execute("SELECT count(*) FROM movrec.item_embeddings WHERE item_kind = %s AND model_id = %s",
                        (kind, model_id)).fetchone()[0]
    name = f"{index_prefix(kind, model_id)}{spec.method}_{int(time.time() * 1000)}"
    if spec.method == "hnsw":
        params = sql.SQL("m = {}, ef_construction = {}").format(sql.Literal(spec.m),
                                                               sql.Literal(spec.ef_construction))
        recorded = {"m": spec.m, "ef_construction": spec.ef_construction}
    else:
        lists = spec.lists_for(rows)
        params = sql.SQL("lists = {}").format(sql.Literal(lists))
        recorded = {"lists": lists}
    ddl = sql.SQL(
        "CREATE INDEX CONCURRENTLY {name} ON movrec.item_embeddings USING {method} "
        "((embedding::vector({dim})) vector_cosine_ops) WITH ({params}) "
        "WHERE item_kind = {kind} AND model_id = {model_id}"
    ).format(name=sql.Identifier(name), method=sql.SQL(spec.method), dim=sql.Literal(int(dimensions)),
             params=params, kind=sql.Literal(kind), model_id=sql.Literal(int(model_id)))
    started = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '256MB'")
    conn.execute(ddl)
    seconds = time.perf_counter() - started
    old = [r[0] for r in conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'movrec' AND tablename = 'item_embeddings' "
        "AND indexname LIKE %s AND indexname <> %s", (index_prefix(kind, model_id) + "%", name)).fetchall()]
    for idx in old:
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS movrec.{}").format(sql.Identifier(idx)))
    size = conn.execute("SELECT pg_relation_size(%s::regclass)", (f"movrec.{name}",)).fetchone()[0]
    return {"index_name": name, "method": spec.method, "rows": rows, "build_seconds": round(seconds, 3),
            "index_bytes": size, "dropped": len(old), **recorded}
