"""The embedded PostgreSQL stopped under a running pipeline, then started again.

A worker embeds the Netflix shows (slowed by provider latency); the test stops the server with
``movrec_pipeline.warehouse.embedded.stop_server`` mid-run. The run fails with a clear one-line error, nothing
half-written remains, and the next run (a fresh worker, which starts the server on its own, as any
``movrec`` process does) completes with exactly the clean run's vectors.
"""

from __future__ import annotations

import subprocess
import sys

from movrec_pipeline.warehouse import embedded
from movrec_pipeline_tests.conftest import FULL_RANGE
from movrec_pipeline_tests.reliability.conftest import (
    FIGURES,
    KIND_ITEMS,
    PROJECT_DIR,
    Worker,
    compare_vectors,
    embedding_spec,
    one,
    register,
    wait_for,
)


def test_server_stopped_under_a_running_pipeline_then_started(baseline, faults) -> None:
    url, version, batch = baseline.url, "rel-server-stop", 200
    mid = register(url, version)
    spec = {"assets": ["netflix_embeddings"], "partition_range": FULL_RANGE,
            "embedding": embedding_spec(faults.base_url, version, write_batch_size=batch, request_batch_items=50,
                                        concurrency=2)}

    def count() -> int:
        return one(url, "SELECT count(*) FROM movrec.item_embeddings WHERE model_id = %s", (mid,))

    faults.configure(latency_s=0.05)
    worker = Worker(spec)
    try:
        wait_for(lambda: count() >= 5 * batch or not worker.alive(), 120, "5 committed batches")
        assert worker.alive(), worker.result()
        assert embedded.stop_server()
        failed = worker.result()
    finally:
        faults.configure(latency_s=0.0)
        if not embedded.is_running():  # whatever happened, leave a running server to the next tests
            subprocess.run([sys.executable, "-m", "movrec_pipeline.cli", "db", "start"], cwd=PROJECT_DIR,
                           capture_output=True, timeout=120)
    assert not failed["success"]
    # first the cut connection (retried by the asset's RetryPolicy), then a one-line "cannot connect"
    assert any("terminating connection due to administrator command" in r for r in failed["retries"]), failed
    assert len(failed["errors"]) == 1, failed["errors"]
    final = failed["errors"][0].split(" <- ")[0]  # the Failure the step ended with (not retried: permanent)
    assert final.startswith("dagster._core.definitions.events.Failure: cannot connect to postgresql://"), final
    assert "No such file or directory" in final and "\n" not in final
    assert "Traceback" not in failed["stdout"]

    # a new run worker starts the embedded server itself and finishes the job
    rerun = Worker(spec).result()
    assert rerun["success"], rerun["errors"]
    assert embedded.is_running()
    partial = rerun["metadata"]["netflix_embeddings"]["run_skipped_unchanged"]
    assert partial > 0 and partial % batch == 0  # whole batches survived the stop
    diff = compare_vectors(url, "netflix", mid, baseline.model_id)
    assert diff == {"extra": 0, "missing": 0, "different": 0, "rows": KIND_ITEMS["netflix"]}, diff
    assert not baseline.check_unchanged()
    FIGURES.fault("embedded server stopped under a running pipeline", True, diff["missing"])
