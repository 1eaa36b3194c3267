"""Great Expectations 1.x run inside PostgreSQL (SQL datasource), imported lazily (the import takes seconds)."""

from __future__ import annotations

import functools
import itertools
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

_counter = itertools.count()


@dataclass(frozen=True)
class Expect:
    """One expectation: ``kind`` is unique | not_null | between | in_set | row_count_between."""

    kind: str
    column: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    value_set: frozenset[Any] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Outcome:
    expectation: str
    success: bool
    unexpected: int
    examples: list[Any]
    observed: Any = None  # e.g. the row count, for table-level expectations


def _build(e: Expect):
    import great_expectations as gx

    ex = gx.expectations
    if e.kind == "unique":
        return ex.ExpectColumnValuesToBeUnique(column=e.column)
    if e.kind == "not_null":
        return ex.ExpectColumnValuesToNotBeNull(column=e.column)
    if e.kind == "between":
        return ex.ExpectColumnValuesToBeBetween(column=e.column, min_value=e.min_value, max_value=e.max_value)
    if e.kind == "in_set":
        return ex.ExpectColumnValuesToBeInSet(column=e.column, value_set=sorted(e.value_set))
    if e.kind == "row_count_between":
        return ex.ExpectTableRowCountToBeBetween(min_value=e.min_value, max_value=e.max_value)
    raise ValueError(f"unknown expectation kind {e.kind!r}")


URL_VARIABLE = "MOVREC_GX_WAREHOUSE_URL"  # GX reads the URL from here: it never appears in GX's own config


@functools.cache
def _context():
    """One ephemeral GX context per process (no files written, no progress bars, no analytics)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    warnings.filterwarnings("ignore", message=".*generic SQLDatasource.*")  # ours has no host (Unix socket)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


@functools.cache
def _datasource(sqlalchemy_url: str):
    """One GX SQL datasource (one SQLAlchemy engine, two pooled connections at most) per warehouse and process;
    a pooled connection the server has since closed (a restart) is replaced on checkout (``pool_pre_ping``)."""
    os.environ[URL_VARIABLE] = sqlalchemy_url
    return _context().data_sources.add_sql(f"warehouse_{next(_counter)}", connection_string=f"${{{URL_VARIABLE}}}",
                                           kwargs={"pool_size": 1, "max_overflow": 1, "pool_pre_ping": True})


def validate(sqlalchemy_url: str, query: str, expectations: list[Expect], name: str) -> list[Outcome]:
    """Run ``expectations`` on the rows of ``query`` inside PostgreSQL (keep the query small: GX runs it as a
    subquery once per metric)."""
    source = _datasource(sqlalchemy_url)
    asset_name = f"{name}_{next(_counter)}"
    return _run(source, source.add_query_asset(name=asset_name, query=query), asset_name, expectations)


def validate_table(sqlalchemy_url: str, schema: str, table: str, expectations: list[Expect], name: str
                   ) -> list[Outcome]:
    """Run ``expectations`` on a table inside PostgreSQL: aggregate queries over the table, no rows moved."""
    source = _datasource(sqlalchemy_url)
    asset_name = f"{name}_{next(_counter)}"
    return _run(source, source.add_table_asset(name=asset_name, table_name=table, schema_name=schema), asset_name,
                expectations)


def _run(source, asset, asset_name: str, expectations: list[Expect]) -> list[Outcome]:
    import great_expectations as gx

    try:
        batch = asset.add_batch_definition_whole_table("all").get_batch()
        suite = gx.ExpectationSuite(name=f"{asset_name}_suite")
        for e in expectations:
            suite.add_expectation(_build(e))
        result = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
    finally:
        source.delete_asset(asset_name)
    outcomes = []
    for r in result.results:
        cfg = r.expectation_config
        col = cfg.kwargs.get("column")
        label = f"{cfg.type}({col})" if col else cfg.type
        res = r.result or {}
        outcomes.append(Outcome(label, bool(r.success), int(res.get("unexpected_count") or 0),
                                list(res.get("partial_unexpected_list") or [])[:5], res.get("observed_value")))
    return outcomes
