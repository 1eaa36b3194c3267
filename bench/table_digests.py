"""Digests of every published warehouse table, to show that a change left the pipeline's output as it was.

    python bench/table_digests.py [--json OUT]     # on the warehouse of MOVREC_HOME / DATABASE_URL

One line per table: rows and an md5 over its rows in a fixed order, leaving out the columns that only say *when*
something ran (``*_at`` timestamps of the pipeline's own writes, run seconds) and surrogate ids the registry
assigns. Two warehouses built from the same inputs by two versions of the code print the same lines.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import psycopg
from psycopg import sql

from movrec_pipeline.warehouse import connection

SCHEMAS = ("dvdrental", "netflix", "movielens", "movrec")
VOLATILE = {"updated_at", "generated_at", "embedded_at", "evaluated_at", "seconds", "recorded_at", "created_at",
            "fit_seconds", "stored_at", "last_failed_at", "first_failed_at", "loaded_at"}
SKIP_TABLES = {("movrec", "asset_state"), ("movrec", "model_artifacts"), ("movrec", "recommendation_quality")}


def tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
                        (list(SCHEMAS),)).fetchall()
    return [(s, t) for s, t in rows if (s, t) not in SKIP_TABLES]


def digest(conn: psycopg.Connection, schema: str, table: str) -> tuple[int, str]:
    cols = [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position", (schema, table)).fetchall() if r[0] not in VOLATILE]
    idents = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) FROM "
                    "(SELECT ROW({cols})::text AS r FROM {table}) s").format(
        cols=idents, table=sql.Identifier(schema, table))
    n, md5 = conn.execute(query).fetchone()
    return int(n), md5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    url = connection.warehouse_url(os.environ.get("DATABASE_URL"))
    out = {}
    with psycopg.connect(url) as conn:
        for schema, table in tables(conn):
            n, md5 = digest(conn, schema, table)
            out[f"{schema}.{table}"] = [n, md5]
            print(f"{schema}.{table:<40} {n:>9,}  {md5}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
