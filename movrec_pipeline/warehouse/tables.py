"""Table reads and bulk writes: frames from queries, COPY a DataFrame in, replace contents atomically, quarantine."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from movrec_pipeline.warehouse import sqlfiles


def _clean(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.ndarray):
        return value  # a vector: pgvector's dumper writes it
    if hasattr(value, "item") and not isinstance(value, list | tuple | str):
        return value.item()  # numpy scalar -> Python
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def copy_frame(conn: psycopg.Connection, schema: str, table: str, frame: pd.DataFrame,
               columns: Sequence[str] | None = None) -> int:
    """``COPY schema.table (columns) FROM STDIN`` with the frame's rows; returns the row count."""
    columns = list(columns or frame.columns)
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    if all(pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_datetime64_any_dtype(frame[c])
           for c in columns):
        # numbers and timestamps only: let pandas write CSV in C, no per-value Python work
        csv_stmt = stmt + sql.SQL(" WITH (FORMAT csv)")
        with conn.cursor() as cur, cur.copy(csv_stmt) as copy:
            copy.write(frame[columns].to_csv(index=False, header=False, date_format="%Y-%m-%d %H:%M:%S%z"))
        return len(frame)
    n = 0
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for row in frame[columns].itertuples(index=False, name=None):
            copy.write_row([_clean(v) for v in row])
            n += 1
    return n


def replace_rows(conn: psycopg.Connection, schema: str, table: str, frame: pd.DataFrame,
                 columns: Sequence[str] | None = None) -> int:
    """Empty the table and COPY the frame in (the caller's transaction makes it atomic)."""
    conn.execute(sql.SQL("DELETE FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
    return copy_frame(conn, schema, table, frame, columns)


def replace_quarantine(conn: psycopg.Connection, source: str, quarantine: pd.DataFrame) -> int:
    """Replace the quarantine rows of ``source`` with ``quarantine`` (line_no, key, reason, raw)."""
    conn.execute(sqlfiles.load("warehouse/quarantine_clear"), {"source": source})
    if quarantine.empty:
        return 0
    frame = quarantine.rename(columns={"show_id": "item_key", "key": "item_key"}).copy()
    frame["source"] = source
    for col in ("line_no", "item_key", "raw"):
        if col not in frame:
            frame[col] = None
    return copy_frame(conn, "movrec", "quarantine", frame, ["source", "line_no", "item_key", "reason", "raw"])


def read_frame(conn: psycopg.Connection, query: str | sql.Composable, params: object = ()) -> pd.DataFrame:
    """The rows of ``query`` as a DataFrame with the query's column names."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def count_rows(conn: psycopg.Connection, table: str) -> int:
    """Rows of ``schema.table``."""
    schema, name = table.split(".")
    return int(conn.execute(sqlfiles.composed("warehouse/count_rows", table=(schema, name))).fetchone()[0])
