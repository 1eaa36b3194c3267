"""Write–audit–publish: load into a staging table, audit it, then swap it in for the published table.

A stage is an empty copy of the published table (columns, defaults, CHECK constraints) in schema
``movrec_stage``; rows are COPYed in with no index to maintain, then the published table's indexes and
primary/unique keys are built on it. :func:`publish` swaps stages in for their tables in one transaction
(drop the old table, move the stage into place, give its indexes the old names), so readers see the old
complete table or the new one, and a failed audit never touches what is published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from movrec_pipeline.warehouse import sqlfiles

STAGE_SCHEMA = "movrec_stage"


@dataclass(frozen=True)
class Stage:
    """A staging table for one published table ``schema.table``."""

    schema: str
    table: str

    @property
    def name(self) -> str:
        return f"{self.schema}__{self.table}"

    @property
    def target(self) -> tuple[str, str]:
        return self.schema, self.table

    @property
    def staged(self) -> tuple[str, str]:
        return STAGE_SCHEMA, self.name


def create_stage(conn: psycopg.Connection, schema: str, table: str) -> Stage:
    """An empty stage shaped like ``schema.table`` (an older one of the same name is dropped)."""
    stage = Stage(schema, table)
    conn.execute(sqlfiles.composed("warehouse/stage_create", stage=stage.staged, target=stage.target))
    return stage


def _index_plan(conn: psycopg.Connection, stage: Stage) -> list[tuple[str, str, str | None]]:
    """(index name, definition, constraint type p/u or None) of every index of the published table."""
    return [(r[0], r[1], r[2]) for r in conn.execute(
        sqlfiles.load("warehouse/table_indexes"), {"schema": stage.schema, "table": stage.table}).fetchall()]


def index_stage(conn: psycopg.Connection, stage: Stage) -> int:
    """Build on the stage every index (and primary / unique key) the published table has; returns how many.

    Names get a ``stage_`` prefix until :func:`publish` gives them the published names.
    """
    target = f"ON {stage.schema}.{stage.table} "
    plan = _index_plan(conn, stage)
    for name, definition, constraint in plan:
        temp = _temp_name(name)
        head, _, tail = definition.partition(target)
        if not tail:
            raise ValueError(f"unexpected index definition for {stage.schema}.{stage.table}: {definition}")
        method_and_columns = tail
        unique = head.startswith("CREATE UNIQUE INDEX")
        conn.execute(sql.SQL("CREATE {unique}INDEX {name} ON {stage} {rest}").format(
            unique=sql.SQL("UNIQUE " if unique else ""), name=sql.Identifier(temp),
            stage=sql.Identifier(*stage.staged), rest=sql.SQL(method_and_columns)))
        if constraint in ("p", "u"):
            kind = "PRIMARY KEY" if constraint == "p" else "UNIQUE"
            conn.execute(sql.SQL("ALTER TABLE {stage} ADD CONSTRAINT {name} {kind} USING INDEX {name}").format(
                stage=sql.Identifier(*stage.staged), name=sql.Identifier(temp), kind=sql.SQL(kind)))
    return len(plan)


def _temp_name(name: str) -> str:
    return ("stage_" + name)[:63]


def row_count(conn: psycopg.Connection, table: tuple[str, str]) -> int:
    """Rows of ``table``; 0 when it does not exist yet (nothing published)."""
    if conn.execute("SELECT to_regclass(%s) IS NULL", (".".join(table),)).fetchone()[0]:
        return 0
    return int(conn.execute(sqlfiles.composed("warehouse/count_rows", table=table)).fetchone()[0])


def publish(conn: psycopg.Connection, stages: Sequence[Stage],
            after: Callable[[psycopg.Connection], None] | None = None) -> None:
    """Swap every stage in for its published table, in one transaction (``conn`` must not be in one).

    ``after(conn)`` runs inside the same transaction once the new tables are in place (e.g. to recreate
    views that depended on the old tables).
    """
    with conn.transaction():
        for stage in stages:
            plan = _index_plan(conn, stage)
            conn.execute(sqlfiles.composed("warehouse/stage_swap_drop", target=stage.target))
            conn.execute(sqlfiles.composed("warehouse/stage_swap_move", stage=stage.staged, schema=stage.schema))
            conn.execute(sqlfiles.composed("warehouse/stage_swap_rename", moved=(stage.schema, stage.name),
                                           table=stage.table))
            for name, _definition, constraint in plan:
                if constraint in ("p", "u"):
                    conn.execute(sqlfiles.composed("warehouse/rename_constraint", table=stage.target,
                                                   old=_temp_name(name), new=name))
                else:
                    conn.execute(sqlfiles.composed("warehouse/rename_index", index=(stage.schema, _temp_name(name)),
                                                   new=name))
        if after is not None:
            after(conn)


def drop_stage(conn: psycopg.Connection, stage: Stage) -> None:
    """Forget a stage that failed its audit (the published table is untouched)."""
    conn.execute(sqlfiles.composed("warehouse/stage_drop", stage=stage.staged))

