"""Scale-out: an embedding backfill split into concurrent runs equals a single-run backfill.

Four processes materialize ``netflix_embeddings`` for 8 buckets each at the same time, all recording
into one PostgreSQL-backed Dagster instance (what ``BackfillPolicy.multi_run(8)`` plus several run
workers would do); then one run covers all 32 buckets with a second model name. The two models must
hold exactly the same items and vectors, and the instance must know every partition (docs/scaling.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import psycopg
import pytest

from movrec_pipeline.defs.partitions import ITEM_BUCKETS
from movrec_pipeline.defs.resources import EmbeddingResource
from movrec_pipeline_tests.conftest import check_results, materialize, step_errors
from movrec_pipeline_tests.fake_openai import FakeOpenAIServer

PROJECT_DIR = Path(__file__).resolve().parents[2]
DAGSTER_DB = "dagster_scale"
MODEL_SPLIT = "fake-embed-scale-a"
MODEL_SINGLE = "fake-embed-scale-b"
NETFLIX_ITEMS = 8809
RANGES = [("b00", "b07"), ("b08", "b15"), ("b16", "b23"), ("b24", "b31")]
API_KEY = "sk-test-scale-0123456789"
POOL = "movrec_embedding_api"

# One run worker: materialize netflix_embeddings over one bucket range on the shared instance. It waits
# for the "go" file after its imports, so the four runs really execute at the same time.
WORKER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path

    import dagster as dg

    from movrec_pipeline.definitions import loaded

    defs = loaded()
    from movrec_pipeline.defs.resources import EmbeddingResource

    start, end, model, base_url, ready, go = sys.argv[1:7]
    embedding = EmbeddingResource(provider="openai", model=model, base_url=base_url, dimensions=64,
                                  item_limit=0)
    assets = list(defs.assets) + list(defs.asset_checks)
    with dg.DagsterInstance.get() as instance:
        Path(ready).touch()
        while not Path(go).exists():
            time.sleep(0.02)
        result = dg.materialize(
            assets, selection=dg.AssetSelection.assets("netflix_embeddings").without_checks(),
            resources={**defs.resources, "embedding": embedding}, instance=instance, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end,
                  "movrec/scale_test": model})
        errors = [e.event_specific_data.error.message for e in result.all_events
                  if e.event_type_value == "STEP_FAILURE" and e.event_specific_data.error]
        print(json.dumps({"run_id": result.run_id, "success": result.success, "errors": errors}))
""")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(dim=64) as srv:
        yield srv


@pytest.fixture(scope="module")
def pg_instance(warehouse_url: str) -> Iterator[tuple[Path, dg.DagsterInstance]]:
    """A Dagster instance whose run, event and schedule storage is a fresh database on the embedded server."""
    from movrec_pipeline.warehouse import connection, embedded

    with psycopg.connect(embedded.server_uri(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DAGSTER_DB} WITH (FORCE)")
    connection.ensure_database(embedded.server_uri(), DAGSTER_DB)
    url = connection.sqlalchemy_url(embedded.server_uri(database=DAGSTER_DB))  # psycopg2, as movrec dev does
    home = Path(tempfile.mkdtemp(prefix="movrec-scale-dagster-"))
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: \"{url}\"\ntelemetry:\n  enabled: false\n")
    # Created here, before any worker starts, so four processes never race to create the schema.
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        instance.event_log_storage.set_concurrency_slots(POOL, len(RANGES))
        yield home, instance
    finally:
        instance.dispose()
        shutil.rmtree(home, ignore_errors=True)
        with psycopg.connect(embedded.server_uri(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DAGSTER_DB} WITH (FORCE)")


def model_vectors(url: str, model: str) -> dict[str, tuple[int, str, np.ndarray]]:
    """item_key -> (bucket, text_hash, vector) of the Netflix vectors of ``model``; asserts no duplicate keys."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT e.item_key, e.bucket, e.text_hash, e.embedding::text FROM movrec.item_embeddings e "
            "JOIN movrec.embedding_models m USING (model_id) "
            "WHERE e.item_kind = 'netflix' AND m.model = %s AND m.dimensions = 64", (model,)).fetchall()
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), f"duplicate vectors for {model}"
    return {k: (b, h, np.array(json.loads(v), dtype=np.float32)) for k, b, h, v in rows}


def test_concurrent_bucket_runs_equal_a_single_run(loaded_sources, warehouse_url: str, fake: FakeOpenAIServer,
                                                   pg_instance, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.perf_counter()
    home, instance = pg_instance
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    env = {**os.environ, "DAGSTER_HOME": str(home), "OPENAI_API_KEY": API_KEY}
    env.pop("MOVREC_ITEM_LIMIT", None)
    sync = Path(tempfile.mkdtemp(prefix="movrec-scale-sync-"))
    procs, outputs = [], []
    try:
        for i, (start, end) in enumerate(RANGES):
            # Output to files, not pipes: a worker's Dagster log must never block on a full pipe.
            with (sync / f"out{i}").open("w") as out, (sync / f"err{i}").open("w") as err:
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", WORKER, start, end, MODEL_SPLIT, fake.base_url,
                     str(sync / f"ready{i}"), str(sync / "go")],
                    cwd=PROJECT_DIR, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while not all((sync / f"ready{i}").exists() for i in range(len(RANGES))):
            failed = [i for i, p in enumerate(procs) if p.poll() is not None]
            assert not failed, (sync / f"err{failed[0]}").read_text()[-3000:]
            assert time.monotonic() < deadline, "workers did not start within 60 s"
            time.sleep(0.05)
        fake.reset_stats()
        (sync / "go").touch()
        for p in procs:
            p.wait(timeout=120)
        outputs = [((sync / f"out{i}").read_text(), (sync / f"err{i}").read_text()) for i in range(len(procs))]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(sync, ignore_errors=True)
    split_requests = fake.stats["requests"]
    results = []
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0 and out.strip(), err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    # Every split run succeeded, is recorded in the shared instance, and the four really overlapped.
    assert all(r["success"] for r in results), [r["errors"] for r in results]
    records = instance.get_run_records(dg.RunsFilter(tags={"movrec/scale_test": MODEL_SPLIT}))
    assert {r.dagster_run.run_id for r in records} == {r["run_id"] for r in results}
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    assert sorted((r.dagster_run.tags["dagster/asset_partition_range_start"],
                   r.dagster_run.tags["dagster/asset_partition_range_end"]) for r in records) == RANGES
    assert max(r.start_time for r in records) < min(r.end_time for r in records), "the runs did not overlap"
    key = dg.AssetKey("netflix_embeddings")
    assert instance.get_materialized_partitions(key) == set(ITEM_BUCKETS.get_partition_keys())
    assert instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 0  # slots released

    # One run over all 32 buckets with a second model name (same provider, same dimensions).
    single = materialize(
        dg.AssetSelection.assets("netflix_embeddings"), partition_range=("b00", "b31"), instance=instance,
        resources={"embedding": EmbeddingResource(provider="openai", model=MODEL_SINGLE, base_url=fake.base_url,
                                                  dimensions=64, item_limit=0)})
    assert single.success, step_errors(single)
    assert check_results(single) == {"netflix_vectors_complete": True, "netflix_embedding_errors": True}

    split, whole = model_vectors(warehouse_url, MODEL_SPLIT), model_vectors(warehouse_url, MODEL_SINGLE)
    assert len(split) == len(whole) == NETFLIX_ITEMS
    assert split.keys() == whole.keys()
    assert all(split[k][:2] == whole[k][:2] for k in split), "bucket or text hash differs"
    a = np.stack([split[k][2] for k in sorted(split)])
    b = np.stack([whole[k][2] for k in sorted(split)])
    assert np.array_equal(a, b)
    assert split_requests >= NETFLIX_ITEMS // 128  # the split runs really called the provider
    seconds = time.perf_counter() - started
    print(f"scale-out: 4 concurrent runs + 1 single run in {seconds:.1f} s, {split_requests} provider requests "
          f"in the split runs")
    assert seconds < 90
