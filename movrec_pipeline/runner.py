"""Headless materialization of the whole asset graph on the project's Dagster instance."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg


def _print_result(label: str, result: dg.ExecuteInProcessResult, started: float,
                  out: Callable[[str], None]) -> None:
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed_checks = [e.event_specific_data for e in checks if not e.event_specific_data.passed]
    mats = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    out(f"{label}: {'ok' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f} s — "
        f"{len(mats)} materializations, {len(checks) - len(failed_checks)}/{len(checks)} checks passed")
    for ev in failed_checks:
        out(f"  check failed: {ev.asset_key.to_user_string()}:{ev.check_name}")
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = ev.event_specific_data.error
            out(f"  step {ev.step_key} failed: {err.message.strip().splitlines()[-1] if err else '?'}")


def materialize_all(out: Callable[[str], None] = print) -> bool:
    """Sources, every embedding bucket (one run), then everything downstream; True when all succeeded."""
    from movrec_pipeline.assets.embeddings import BUCKETS
    from movrec_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = list(defs.assets or []) + list(defs.asset_checks or [])
    partitioned = dg.AssetSelection.assets(*[k for k in graph.get_all_asset_keys()
                                             if graph.get(k).is_partitioned])
    keys = BUCKETS.get_partition_keys()
    phases = [
        ("sources", partitioned.upstream() - partitioned, {}),
        ("embeddings", partitioned, {"dagster/asset_partition_range_start": keys[0],
                                     "dagster/asset_partition_range_end": keys[-1]}),
        ("downstream", dg.AssetSelection.all() - partitioned.upstream(), {}),
    ]
    ok = True
    with dg.DagsterInstance.get() as instance:
        for label, selection, tags in phases:
            if not selection.resolve(graph):
                continue
            started = time.perf_counter()
            result = dg.materialize(assets, selection=selection, instance=instance, tags=tags,
                                    resources=defs.resources, raise_on_error=False)
            _print_result(label, result, started, out)
            ok = ok and result.success
            if not result.success:
                break
    return ok
