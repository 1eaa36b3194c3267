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
    binary = _binary_columns(conn, schema, table, frame, columns)
    if binary is not None:
        return copy_arrays(conn, (schema, table), binary)
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


_PG_TYPES = {"integer": "int4", "bigint": "int8", "real": "float4", "double precision": "float8",
             "timestamp with time zone": "timestamptz"}


def _binary_columns(conn: psycopg.Connection, schema: str, table: str, frame: pd.DataFrame,
                    columns: Sequence[str]) -> list[tuple[str, str, np.ndarray]] | None:
    """The frame as binary-COPY columns when every column is a NULL-free number or timestamp the table
    stores as integer, bigint, real, double precision or timestamptz; else None."""
    if len(frame) < 10_000:  # small frames: not worth a catalog lookup
        return None
    types = dict(conn.execute(sqlfiles.load("warehouse/column_types"), {"schema": schema, "table": table}).fetchall())
    out = []
    for name in columns:
        pg_type = _PG_TYPES.get(types.get(name, ""))
        values = frame[name]
        if pg_type is None or values.isna().any():
            return None
        if pg_type == "timestamptz":
            if not pd.api.types.is_datetime64_any_dtype(values):
                return None
            array = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy() if values.dt.tz else values.to_numpy()
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            array = values.to_numpy()
        else:
            return None
        out.append((name, pg_type, array))
    return out


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


_BINARY_TYPES = {"int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8", "timestamptz": ">i8"}
_PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 in Unix microseconds


def copy_arrays(conn: psycopg.Connection, table: tuple[str, str], columns: Sequence[tuple[str, str, np.ndarray]],
                rows_per_chunk: int = 1_000_000) -> int:
    """Binary COPY of numeric columns built by NumPy (no per-value Python work): ``(name, pg_type, values)``
    with pg_type int4, int8, float4, float8 or timestamptz (datetime64 values or Unix seconds), no NULLs.
    About 15x faster than COPY of CSV text from pandas. Returns the row count."""
    n = len(columns[0][2])
    fields = [("count", ">i2")]
    for i, (_name, pg_type, _values) in enumerate(columns):
        fields += [(f"len{i}", ">i4"), (f"val{i}", _BINARY_TYPES[pg_type])]
    dtype = np.dtype(fields)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT BINARY)").format(
        sql.Identifier(*table), sql.SQL(", ").join(sql.Identifier(name) for name, _, _ in columns))
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], ">i4").tobytes())
        for start in range(0, n, rows_per_chunk):
            stop = min(start + rows_per_chunk, n)
            block = np.empty(stop - start, dtype=dtype)
            block["count"] = len(columns)
            for i, (_name, pg_type, values) in enumerate(columns):
                block[f"len{i}"] = np.dtype(_BINARY_TYPES[pg_type]).itemsize
                chunk = values[start:stop]
                if pg_type == "timestamptz":  # datetime64 values, or Unix seconds
                    chunk = (chunk.astype("datetime64[us]").astype(np.int64) if chunk.dtype.kind == "M"
                             else chunk.astype(np.int64) * 1_000_000) - _PG_EPOCH_US
                block[f"val{i}"] = chunk
            copy.write(block.tobytes())
        copy.write(np.array([-1], ">i2").tobytes())
    return n


_NP_TYPES = {"int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8"}


def read_arrays(conn: psycopg.Connection, query: sql.Composable, columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """The rows of ``query`` (a SELECT of NOT NULL int4/int8/float4/float8 columns, in ``columns`` order) as a
    DataFrame, through binary COPY decoded by NumPy in one step: no Python object per value. About 20x faster
    than fetching rows, and a tenth of the memory (32 M ratings: ~1.2 GB of COPY data, a few seconds)."""
    fields = [("count", ">i2")]
    for name, pg_type in columns:
        fields += [(f"len_{name}", ">i4"), (name, _NP_TYPES[pg_type])]
    dtype = np.dtype(fields)
    stmt = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT BINARY)").format(query)
    chunks = []
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for data in copy:
            chunks.append(bytes(data))
    payload = b"".join(chunks)
    del chunks
    header = 19  # signature (11), flags (4), extension length (4, zero)
    body = payload[header:len(payload) - 2]  # the trailer is a field count of -1
    rows = np.frombuffer(body, dtype=dtype)
    return pd.DataFrame({name: rows[name].astype(_NP_TYPES[pg_type].replace(">", "=")) for name, pg_type in columns})
