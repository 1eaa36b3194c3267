"""SIGKILL of a run worker mid-step, then a re-run: the result equals the uninterrupted (baseline) run.

Each worker is ``worker.py`` in its own process (``dg.materialize`` on the real definitions). The moment
to kill is found by watching the database: row counts (embeddings), ``pg_stat_activity`` (the pg_restore
of a restore, the CREATE INDEX of an index build) or a row lock the test holds (the recommendation swap
waits on it with its new table written but not committed).
"""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from movrec_pipeline_tests.conftest import FULL_RANGE, materialize, step_errors
from movrec_pipeline_tests.reliability.conftest import (
    FIGURES,
    KIND_ITEMS,
    Baseline,
    Worker,
    activity,
    compare_vectors,
    embedding_resource,
    embedding_spec,
    one,
    register,
    rows_lost,
    snapshot,
    terminate,
    wait_for,
)


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()
            if e.event_specific_data.materialization.asset_key.to_user_string() == asset]
    return {k: v.value for k, v in mats[-1].metadata.items()}


def test_kill_mid_embedding_partition(baseline: Baseline, faults) -> None:
    url, version, batch = baseline.url, "rel-kill-embed", 200
    mid = register(url, version)
    faults.configure(latency_s=0.05)  # ~0.1 s per batch of 200: a kill lands between and inside batches
    worker = Worker({"assets": ["netflix_embeddings"], "partition_range": FULL_RANGE,
                     "embedding": embedding_spec(faults.base_url, version, write_batch_size=batch,
                                                 request_batch_items=50, concurrency=2)})

    def count() -> int:
        return one(url, "SELECT count(*) FROM movrec.item_embeddings WHERE model_id = %s", (mid,))

    try:
        wait_for(lambda: count() >= 5 * batch or not worker.alive(), 120, "5 committed batches")
        assert worker.alive(), worker.result()
        worker.kill()
    finally:
        faults.configure(latency_s=0.0)
    partial = count()
    assert 0 < partial < KIND_ITEMS["netflix"] and partial % batch == 0, partial  # whole batches only

    rerun = materialize(dg.AssetSelection.assets("netflix_embeddings"),
                        {"embedding": embedding_resource(faults.base_url, version)}, partition_range=FULL_RANGE)
    assert rerun.success, step_errors(rerun)
    meta = metadata(rerun, "netflix_embeddings")
    assert (meta["run_skipped_unchanged"], meta["run_embedded"]) == (partial, KIND_ITEMS["netflix"] - partial)
    diff = compare_vectors(url, "netflix", mid, baseline.model_id)
    assert diff == {"extra": 0, "missing": 0, "different": 0, "rows": KIND_ITEMS["netflix"]}, diff
    FIGURES.fault("SIGKILL mid embedding partition", True, diff["missing"])


@pytest.mark.parametrize("stage", ["scratch", "warehouse"])
def test_kill_mid_source_load(baseline: Baseline, stage: str) -> None:
    """dvdrental: killed while pg_restore fills the scratch database, or the warehouse's dvdrental_next."""
    url = baseline.url
    where = ("application_name = 'pg_restore' AND " +
             ("datname LIKE 'movrec_restore_%%'" if stage == "scratch" else "datname = current_database()"))
    worker = Worker({"assets": ["dvdrental"]})
    wait_for(lambda: activity(url, where) or not worker.alive(), 120, f"pg_restore into the {stage} database")
    assert worker.alive(), worker.result()
    worker.kill()  # the worker only: its pg_restore child lives on as an orphan, as after an OOM kill
    wait_for(lambda: not activity(url, "application_name = 'pg_restore'"), 60, "the orphaned pg_restore to end")
    # the swap never ran: readers still see the previous complete dvdrental
    assert not baseline.check_unchanged("dvdrental.film", "dvdrental.customer", "dvdrental.rental",
                                        "dvdrental.inventory")
    left = one(url, "SELECT count(*) FROM pg_database WHERE datname LIKE 'movrec_restore_%%'")
    assert left == (1 if stage == "scratch" else 0)  # the killed worker never dropped its scratch database

    rerun = materialize(dg.AssetSelection.assets("dvdrental"))
    assert rerun.success, step_errors(rerun)
    assert not baseline.check_unchanged("dvdrental.film", "dvdrental.customer", "dvdrental.rental",
                                        "dvdrental.inventory")
    leftovers = one(url, "SELECT count(*) FROM pg_database WHERE datname LIKE 'movrec_restore_%%'")
    next_schema = one(url, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'dvdrental%%'")
    assert (leftovers, next_schema) == (0, 1)  # no scratch database or half-restored schema left behind
    FIGURES.fault(f"SIGKILL mid source load (pg_restore into {stage})", True,
                  rows_lost(baseline.tables, snapshot(url, baseline.model_id)))


def test_kill_mid_index_build(baseline: Baseline) -> None:
    url = baseline.url
    prefix = f"item_emb_netflix_m{baseline.model_id}_%"
    with psycopg.connect(url, autocommit=True) as conn:
        before = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE %s",
                                             (prefix,)).fetchall()]
    assert len(before) == 1
    worker = Worker({"assets": ["netflix_vector_index"], "embedding": embedding_spec(baseline.base_url, "v1")})
    where = "application_name = 'movrec' AND query LIKE '%%CREATE INDEX CONCURRENTLY%%'"
    building = wait_for(lambda: activity(url, where) or not worker.alive(), 120, "CREATE INDEX CONCURRENTLY")
    assert worker.alive(), worker.result()
    worker.kill()
    # the server would finish the orphaned build on its own; cut it like a dropped connection instead
    terminate(url, building[0][0])
    wait_for(lambda: not activity(url, where), 30, "the orphaned build to stop")
    with psycopg.connect(url, autocommit=True) as conn:
        invalid = conn.execute("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                               "WHERE c.relname LIKE %s AND NOT i.indisvalid", (prefix,)).fetchone()[0]
        valid = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname LIKE %s AND i.indisvalid", (prefix,)).fetchall()]
    assert invalid == 1 and valid == before  # the half-built index is invalid; readers keep the old one

    rerun = materialize(dg.AssetSelection.assets("netflix_vector_index"),
                        {"embedding": embedding_resource(baseline.base_url)})
    assert rerun.success, step_errors(rerun)
    assert all(e.event_specific_data.passed for e in rerun.all_events
               if e.event_type_value == "ASSET_CHECK_EVALUATION")  # recall@10 check on the new index
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON "
                            "c.oid = i.indexrelid WHERE c.relname LIKE %s", (prefix,)).fetchall()
    assert len(rows) == 1 and rows[0][1] and rows[0][0] not in before, rows  # one valid index, invalid one dropped
    assert metadata(rerun, "netflix_vector_index")["dropped"] == 2
    FIGURES.fault("SIGKILL mid index build", True)


def test_kill_mid_recommendation_swap(baseline: Baseline) -> None:
    url, table = baseline.url, "movrec.customer_netflix_recommendations"
    asset = "customer_netflix_recommendations"
    blocker = psycopg.connect(url)  # holds the asset_state row: the swap waits there (recording its data version)
    try:
        blocker.execute("SELECT 1 FROM movrec.asset_state WHERE asset = %s FOR UPDATE", (asset,))
        worker = Worker({"assets": [asset], "embedding": embedding_spec(baseline.base_url, "v1")})
        where = ("application_name = 'movrec' AND wait_event_type = 'Lock' "
                 "AND query LIKE '%%INSERT INTO movrec.asset_state%%'")
        waiting = wait_for(lambda: activity(url, where) or not worker.alive(), 120, "the swap to reach its commit")
        assert worker.alive(), worker.result()
        assert not baseline.check_unchanged(table)  # mid-swap, readers see the old complete table
        worker.kill()
    finally:
        blocker.rollback()
        blocker.close()
    wait_for(lambda: not activity(url, "pid = %s", (waiting[0][0],)), 30, "the orphaned backend to abort")
    assert not baseline.check_unchanged(table)  # the half-done swap rolled back

    rerun = materialize(dg.AssetSelection.assets(asset), {"embedding": embedding_resource(baseline.base_url)})
    assert rerun.success, step_errors(rerun)
    assert metadata(rerun, asset)["rebuilt"] is True
    assert not baseline.check_unchanged(table, "movrec.customer_profiles")
    FIGURES.fault("SIGKILL mid recommendation-table swap", True,
                  rows_lost(baseline.tables, snapshot(url, baseline.model_id)))
