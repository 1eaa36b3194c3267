"""Embedding assets end to end on the embedded PostgreSQL: backfill, incremental, model switch, kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

from movrec_pipeline.defs.partitions import ITEM_BUCKETS, N_BUCKETS
from movrec_pipeline.defs.resources import EmbeddingResource
from movrec_pipeline.embedders import texts
from movrec_pipeline_tests.conftest import check_results, materialize, step_errors
from movrec_pipeline_tests.fake_openai import FakeOpenAIServer

TEXT_ASSETS = dg.AssetSelection.assets("film_embeddings", "netflix_embeddings", "movielens_movie_embeddings")
ALL = (ITEM_BUCKETS.get_partition_keys()[0], ITEM_BUCKETS.get_partition_keys()[-1])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(dim=64) as srv:
        yield srv


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


def fake_provider(fake: FakeOpenAIServer, **kw) -> dict:
    return {"embedding": EmbeddingResource(provider="openai", model="fake-embed-t", base_url=fake.base_url,
                                           dimensions=kw.pop("dimensions", 64), max_retries=3, **kw)}


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()
            if e.event_specific_data.materialization.asset_key.to_user_string() == asset]
    return {k: v.value for k, v in mats[0].metadata.items()}


def vector_count(url: str, kind: str, dims: int = 64) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM movrec.item_embeddings e JOIN movrec.embedding_models m USING (model_id) "
            "WHERE e.item_kind = %s AND m.model = 'fake-embed-t' AND m.dimensions = %s", (kind, dims)).fetchone()[0]


def test_full_backfill_then_second_run_makes_no_calls(loaded_sources, warehouse_url: str,
                                                       fake: FakeOpenAIServer) -> None:
    instance = dg.DagsterInstance.ephemeral()
    first = materialize(TEXT_ASSETS, fake_provider(fake), partition_range=ALL, instance=instance)
    assert first.success, step_errors(first)
    assert {a: metadata(first, a)["run_embedded"] for a in ("film_embeddings", "netflix_embeddings",
                                                       "movielens_movie_embeddings")} == {
        "film_embeddings": 1000, "netflix_embeddings": 8809, "movielens_movie_embeddings": 9742}
    assert (vector_count(warehouse_url, "film"), vector_count(warehouse_url, "netflix"),
            vector_count(warehouse_url, "movielens")) == (1000, 8809, 9742)
    assert all(check_results(first).values()) and len(check_results(first)) == 6  # coverage + errors, x3
    assert instance.get_materialized_partitions(dg.AssetKey("netflix_embeddings")) == set(
        ITEM_BUCKETS.get_partition_keys())

    fake.reset_stats()
    second = materialize(TEXT_ASSETS, fake_provider(fake), partition_range=ALL)
    assert second.success, step_errors(second)
    assert fake.stats["requests"] == 0
    assert metadata(second, "netflix_embeddings")["run_embedded"] == 0
    assert metadata(second, "netflix_embeddings")["run_skipped_unchanged"] == 8809


def test_changed_description_reembeds_exactly_one_item(loaded_sources, warehouse_url: str,
                                                       fake: FakeOpenAIServer) -> None:
    first = materialize(dg.AssetSelection.assets("netflix_embeddings"), fake_provider(fake), partition_range=ALL)
    assert first.success, step_errors(first)
    with psycopg.connect(warehouse_url) as conn:
        old = conn.execute("SELECT description FROM netflix.shows WHERE show_id = 's42'").fetchone()[0]
        conn.execute("UPDATE netflix.shows SET description = description || ' Now with a twist.' "
                     "WHERE show_id = 's42'")
    try:
        bucket = ITEM_BUCKETS.get_partition_keys()[texts.bucket_of("s42", N_BUCKETS)]
        fake.reset_stats()
        again = materialize(dg.AssetSelection.assets("netflix_embeddings"), fake_provider(fake),
                            partition_range=(bucket, bucket))
        assert again.success, step_errors(again)
        meta = metadata(again, "netflix_embeddings")
        assert meta["embedded"] == meta["run_embedded"] == 1 and meta["provider_requests"] == 1
        assert fake.stats["inputs_embedded"] == 1
    finally:
        with psycopg.connect(warehouse_url) as conn:
            conn.execute("UPDATE netflix.shows SET description = %s WHERE show_id = 's42'", (old,))


def test_model_switch_keeps_old_vectors(loaded_sources, warehouse_url: str, fake: FakeOpenAIServer) -> None:
    sel = dg.AssetSelection.assets("film_embeddings")
    assert materialize(sel, fake_provider(fake), partition_range=ALL).success
    switched = materialize(sel, fake_provider(fake, dimensions=32), partition_range=ALL)
    assert switched.success, step_errors(switched)
    assert metadata(switched, "film_embeddings")["run_embedded"] == 1000
    assert vector_count(warehouse_url, "film", 64) == 1000
    assert vector_count(warehouse_url, "film", 32) == 1000


def test_permanent_provider_error_fails_fast_and_writes_nothing(loaded_sources, warehouse_url: str,
                                                                fake: FakeOpenAIServer) -> None:
    fake.configure(require_api_key="sk-the-right-key")
    fake.reset_stats()
    try:
        result = materialize(dg.AssetSelection.assets("film_embeddings"), fake_provider(fake, dimensions=16),
                             partition_range=ALL)
    finally:
        fake.configure(require_api_key=None)
    assert not result.success
    errors = step_errors(result)
    assert any("401" in e or "API key" in e for e in errors), errors
    assert all("sk-test-not-a-real-key" not in e for e in errors)
    assert fake.stats["requests"] <= 4  # the requests already in flight (concurrency 4); no retries
    assert vector_count(warehouse_url, "film", 16) == 0


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from movrec_pipeline.warehouse import embedding_models as registry
    from movrec_pipeline.embedders import sync
    from movrec_pipeline.embedders import texts
    from movrec_pipeline.warehouse import connection
    from movrec_pipeline.embedders.openai_compat import OpenAICompatibleEmbedder
    emb = OpenAICompatibleEmbedder(api_key="sk-test", model="fake-embed-t", base_url=sys.argv[1], dimensions=8,
                                   max_batch_items=25, concurrency=1)
    with connection.connect(connection.warehouse_url(), autocommit=True) as conn:
        mid = registry.register_model(conn, "openai", "fake-embed-t", 8, "v1")
        sync.sync_buckets(conn, emb, kind="netflix", model_id=mid, template=texts.DEFAULT_TEMPLATES["netflix"],
                          n_buckets=32, buckets=range(32), batch_size=50)
""")


def test_killed_run_leaves_whole_batches_and_rerun_completes(loaded_sources, warehouse_url: str,
                                                             fake: FakeOpenAIServer) -> None:
    fake.configure(latency_s=0.02)
    try:
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, fake.base_url], env=dict(os.environ))
        deadline = time.time() + 120
        while vector_count(warehouse_url, "netflix", 8) < 500 and time.time() < deadline:
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = vector_count(warehouse_url, "netflix", 8)
        assert 0 < partial < 8809 and partial % 50 == 0  # whole batches only
        fake.configure(latency_s=0.0)
        rerun = subprocess.run([sys.executable, "-c", KILL_SCRIPT, fake.base_url], env=dict(os.environ))
        assert rerun.returncode == 0
    finally:
        fake.configure(latency_s=0.0)
    assert vector_count(warehouse_url, "netflix", 8) == 8809
    with psycopg.connect(warehouse_url) as conn:
        dupes = conn.execute("SELECT count(*) - count(DISTINCT item_key) FROM movrec.item_embeddings e "
                             "JOIN movrec.embedding_models m USING (model_id) WHERE m.dimensions = 8").fetchone()[0]
    assert dupes == 0
