"""Great Expectations 1.x on pandas frames, imported lazily (the import alone takes seconds)."""

from __future__ import annotations

import contextlib
import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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


def validate(frame: pd.DataFrame, expectations: list[Expect], name: str) -> list[Outcome]:
    """Run ``expectations`` on ``frame`` in an ephemeral GX context; one outcome per expectation."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    with contextlib.suppress(Exception):  # config object shape varies; progress bars only cost log noise
        ctx.variables.progress_bars = {"globally": False}
    source = ctx.data_sources.add_pandas(f"{name}_{next(_counter)}_{os.getpid()}")
    batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame}
    )
    suite = gx.ExpectationSuite(name=f"{name}_suite")
    for e in expectations:
        suite.add_expectation(_build(e))
    result = batch.validate(suite)
    outcomes = []
    for r in result.results:
        cfg = r.expectation_config
        col = cfg.kwargs.get("column")
        label = f"{cfg.type}({col})" if col else cfg.type
        res = r.result or {}
        outcomes.append(Outcome(label, bool(r.success), int(res.get("unexpected_count") or 0),
                                list(res.get("partial_unexpected_list") or [])[:5]))
    return outcomes
