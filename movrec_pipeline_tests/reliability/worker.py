"""A run worker for the fault tests: ``python -m movrec_pipeline_tests.reliability.worker '<json spec>'``.

Materializes a selection of the real definitions (``dg.materialize``, ephemeral instance) in its own
process, so a test can SIGKILL it at a chosen moment, and prints one ``RESULT {json}`` line at the end:
success, step errors (failures and retries), materialization metadata (plain values) and check results.

Spec keys: ``assets`` (names), ``partition_range`` ([start, end] or null), ``embedding`` / ``sources``
(keyword arguments of EmbeddingResource / SourcesResource, or null for the definitions' own resources).
"""

from __future__ import annotations

import json
import sys
import time


def chain(error) -> str:
    """Messages of a serialized error and of its causes, outermost first."""
    parts = []
    while error is not None:
        parts.append(error.message.strip())
        error = error.cause or error.context
    return " <- ".join(parts)


def run(spec: dict) -> dict:
    import dagster as dg

    from movrec_pipeline.definitions import loaded

    defs = loaded()
    from movrec_pipeline.defs.resources import EmbeddingResource, SourcesResource

    resources = dict(defs.resources)
    if spec.get("embedding") is not None:
        resources["embedding"] = EmbeddingResource(**spec["embedding"])
    if spec.get("sources") is not None:
        resources["sources"] = SourcesResource(**spec["sources"])
    tags = {}
    if spec.get("partition_range"):
        start, end = spec["partition_range"]
        tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    selection = dg.AssetSelection.assets(*spec["assets"])
    if spec.get("multi_asset_neighbors"):
        selection = selection.required_multi_asset_neighbors()
    started = time.perf_counter()
    result = dg.materialize(list(defs.assets) + list(defs.asset_checks), selection=selection, resources=resources,
                            instance=dg.DagsterInstance.ephemeral(), tags=tags, raise_on_error=False)
    errors, retries, metadata, checks = [], [], {}, {}
    for event in result.all_events:
        kind = event.event_type_value
        if kind == "STEP_FAILURE" and event.event_specific_data.error:
            errors.append(chain(event.event_specific_data.error))
        elif kind == "STEP_UP_FOR_RETRY" and event.event_specific_data.error:
            retries.append(chain(event.event_specific_data.error))
        elif kind == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            metadata[mat.asset_key.to_user_string()] = {
                k: v.value for k, v in mat.metadata.items() if isinstance(v.value, str | int | float | bool)}
        elif kind == "ASSET_CHECK_EVALUATION":
            checks[event.event_specific_data.check_name] = event.event_specific_data.passed
    return {"success": result.success, "errors": errors, "retries": retries, "metadata": metadata,
            "checks": checks, "seconds": round(time.perf_counter() - started, 2)}


if __name__ == "__main__":
    out = run(json.loads(sys.argv[1]))
    print("RESULT " + json.dumps(out), flush=True)
    sys.exit(0 if out["success"] else 1)
