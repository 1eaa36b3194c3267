"""Provider storms: 30 % of embedding requests fail (429 with/without Retry-After, 500, 503, hangs).

The film embeddings (1000 items, 40 requests of 25 texts, 4 at a time) go through the real asset against
the fake provider. In the end every item has the clean run's vector, the retries are counted in the
materialization's ``provider_retries`` (equal to what the server saw) and the wall time stays bounded.
"""

from __future__ import annotations

import time

import dagster as dg
import pytest

from movrec_pipeline_tests.conftest import FULL_RANGE, materialize, step_errors
from movrec_pipeline_tests.reliability.conftest import (
    FIGURES,
    KIND_ITEMS,
    compare_vectors,
    embedding_resource,
    model_id,
)

# name: (fault settings, client timeout, wall-time bound in seconds)
# Bounds: 10 rounds of 4 concurrent requests; a failed attempt waits Retry-After (0.2 s) or the client's
# backoff (0.5 s, 1 s, 2 s … ≤ 8 s, minus up to 25 % jitter), a hang costs the 1 s timeout plus that backoff.
# Two retries in a row hit ~9 % of requests, so a round costs ≲ 2 s; the bounds leave room for one
# step-level retry (the asset's RetryPolicy, 5 s) should a request exhaust its 6 client retries.
STORMS = {
    "429-with-retry-after": ({"fail_rate_429": 0.3, "retry_after": 0.2}, 10.0, 30),
    "429-without-retry-after": ({"fail_rate_429": 0.3}, 10.0, 45),
    "500": ({"fail_rate_500": 0.3}, 10.0, 45),
    "503": ({"fail_rate_503": 0.3}, 10.0, 45),
    "hang-past-timeout": ({"hang_rate": 0.3, "hang_s": 3.0}, 1.0, 60),
}


@pytest.mark.parametrize("name", list(STORMS), ids=list(STORMS))
def test_provider_storm_embeds_everything(baseline, faults, name: str) -> None:
    settings, timeout, bound = STORMS[name]
    version = f"rel-storm-{name}"
    faults.configure(**settings, seed=7)
    started = time.monotonic()
    result = materialize(dg.AssetSelection.assets("film_embeddings"), {"embedding": embedding_resource(
        faults.base_url, version, request_batch_items=25, write_batch_size=250, concurrency=4,
        timeout_seconds=timeout, max_retries=6)}, partition_range=FULL_RANGE)
    seconds = time.monotonic() - started
    faults.configure(fail_rate_429=0.0, fail_rate_500=0.0, fail_rate_503=0.0, hang_rate=0.0, retry_after=None)
    assert result.success, step_errors(result)

    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    meta = {k: v.value for k, v in mats[-1].metadata.items()}
    stats = faults.stats
    failed = stats["status"][429] + stats["status"][500] + stats["status"][503] + stats["status"][0]
    assert failed >= 5, stats["status"]  # the storm really happened
    step_retries = sum(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)
    if step_retries == 0:  # one attempt: its counters are the whole story
        assert meta["provider_retries"] == stats["retry_requests"] > 0, (meta, stats)
        assert meta["provider_requests"] == stats["requests"]
        assert meta["run_embedded"] == KIND_ITEMS["film"]
    else:  # the last attempt counts its own calls only
        assert meta["provider_retries"] <= stats["retry_requests"]
    diff = compare_vectors(baseline.url, "film", model_id(baseline.url, version), baseline.model_id)
    assert diff == {"extra": 0, "missing": 0, "different": 0, "rows": KIND_ITEMS["film"]}, diff
    assert seconds < bound, f"{name}: {seconds:.1f} s (bound {bound} s)"
    FIGURES.retries[name] = int(meta["provider_retries"])
    FIGURES.fault(f"provider storm {name} ({seconds:.1f} s, {meta['provider_retries']} retries)", True,
                  diff["missing"])
