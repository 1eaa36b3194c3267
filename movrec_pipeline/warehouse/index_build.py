"""Build pgvector indexes (HNSW or IVFFlat) per item kind and model without leaving readers unindexed."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from movrec_pipeline.core.errors import MovrecError
from movrec_pipeline.warehouse import sqlfiles
from movrec_pipeline.warehouse.vector_index import index_prefix


@dataclass(frozen=True)
class IndexSpec:
    method: str = "hnsw"  # or "ivfflat"
    m: int = 16
    ef_construction: int = 128
    lists: int = 0  # 0 = from the row count (pgvector README: rows/1000 up to 1M rows, sqrt(rows) above)

    def lists_for(self, rows: int) -> int:
        if self.lists:
            return self.lists
        return max(1, rows // 1000) if rows <= 1_000_000 else int(math.sqrt(rows))



def build_index(conn: psycopg.Connection, kind: str, model_id: int, dimensions: int,
                spec: IndexSpec) -> dict[str, object]:
    """CREATE INDEX CONCURRENTLY a new partial expression index, then drop the older ones.

    ``conn`` must be in autocommit mode (CONCURRENTLY cannot run in a transaction).
    """
    if spec.method not in ("hnsw", "ivfflat"):
        raise MovrecError(f"unknown index method {spec.method!r}: set index_method to hnsw or ivfflat")
    count = conn.execute(sqlfiles.load("indexes/vector_count"), {"kind": kind, "model_id": model_id})
    rows = count.fetchone()[0]
    name = f"{index_prefix(kind, model_id)}{spec.method}_{int(time.time() * 1000)}"
    if spec.method == "hnsw":
        params = sql.SQL("m = {}, ef_construction = {}").format(sql.Literal(spec.m),
                                                               sql.Literal(spec.ef_construction))
        recorded = {"m": spec.m, "ef_construction": spec.ef_construction}
    else:
        lists = spec.lists_for(rows)
        params = sql.SQL("lists = {}").format(sql.Literal(lists))
        recorded = {"lists": lists}
    ddl = sql.SQL(sqlfiles.load("indexes/create_index")).format(
        name=sql.Identifier(name), method=sql.SQL(spec.method), dim=sql.Literal(int(dimensions)),
        params=params, kind=sql.Literal(kind), model_id=sql.Literal(int(model_id)))
    started = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '256MB'")
    conn.execute(ddl)
    seconds = time.perf_counter() - started
    old = [r[0] for r in conn.execute(sqlfiles.load("indexes/older_indexes"),
                                      {"prefix": index_prefix(kind, model_id) + "%", "name": name}).fetchall()]
    for idx in old:
        conn.execute(sqlfiles.composed("indexes/drop_index", index=("movrec", idx)))
    size = conn.execute(sqlfiles.load("indexes/index_size"), {"index": f"movrec.{name}"}).fetchone()[0]
    return {"index_name": name, "method": spec.method, "rows": rows, "build_seconds": round(seconds, 3),
            "index_bytes": size, "dropped": len(old), **recorded}
