"""Headless materialization of the whole asset graph on the project's Dagster instance."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg

FULL_RANGE_TAGS = {"dagster/asset_partition_range_start": "b00", "dagster/asset_partition_range_end": "b31"}


def summarize(result: dg.ExecuteInProcessResult, seconds: float) -> list[str]:
    """One line for the run, one per failed check or step."""
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    mats = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    lines = [f"{'ok' if result.success else 'FAILED'} in {seconds:.1f} s: {len(mats)} materializations, "
             f"{sum(c.passed for c in checks)}/{len(checks)} checks passed"]
    lines += [f"  check failed: {c.asset_key.to_user_string()}:{c.check_name}" for c in checks if not c.passed]
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE" and ev.event_specific_data.error:
            lines.append(f"  step {ev.step_key} failed: {ev.event_specific_data.error.message.strip()}")
    return lines


def materialize_all(out: Callable[[str], None] = print) -> bool:
    """Every asset and check in one run, embedding assets over all buckets (as the daily schedule does)."""
    from movrec_pipeline.definitions import defs

    assets = list(defs.assets or []) + list(defs.asset_checks or [])
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        result = dg.materialize(assets, instance=instance, tags={**FULL_RANGE_TAGS, "movrec/trigger": "cli"},
                                resources=defs.resources, raise_on_error=False)
    for line in summarize(result, time.perf_counter() - started):
        out(line)
    return result.success
