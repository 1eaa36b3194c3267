"""The served model's choice in the warehouse (``movrec.model_selection``): written by the selection asset, read
by the item model, the evaluation and the read side."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from movrec_pipeline.ranking.selection import Selection
from movrec_pipeline.warehouse import sqlfiles


def save(conn: psycopg.Connection, selection: Selection) -> None:
    record = selection.as_record()
    conn.execute(sqlfiles.load("recommendations/selection_insert"), {
        **{k: record[k] for k in ("served", "users", "ratings", "seconds", "note")},
        **{k: Jsonb(record[k]) for k in ("settings", "baselines", "validation")},
        "calibration": None if record["calibration"] is None else Jsonb(record["calibration"])})


def latest(conn: psycopg.Connection) -> Selection | None:
    """The latest choice, or None before the first."""
    row = conn.execute(sqlfiles.load("recommendations/selection_latest")).fetchone()
    if row is None:
        return None
    names = ("served", "settings", "baselines", "validation", "calibration", "users", "ratings", "seconds", "note")
    return Selection.from_record(dict(zip(names, row, strict=True)))
