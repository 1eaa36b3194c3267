"""Vector indexes tune themselves to the recall floor on a catalogue of near-duplicate texts (templated titles), the
query paths use the recorded depth, and a failing recall check stops none of the batch assets."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest

from movrec_pipeline.embedders import sync
from movrec_pipeline.query.models import Model
from movrec_pipeline.query.vectors import knn
from movrec_pipeline.warehouse import connection, embedding_models, index_tuning
from movrec_pipeline.warehouse.index_build import IndexSpec
from movrec_pipeline.warehouse.index_recall import RecallProbe
from movrec_pipeline_tests.conftest import materialize, step_errors
from movrec_pipeline_tests.fake_openai import FakeOpenAIServer

DIMS = 384  # as all-MiniLM-L6-v2
MODEL = "fake-templated"
SYLLABLES = ("ka", "ro", "mi", "ten", "sul", "vor", "an", "el", "is", "dra", "gon", "bel", "tor", "nis", "qua", "lex")


def templated_titles(n: int) -> list[str]:
    """Titles from one template, as a generated catalogue (or a real one: episodes, editions, re-releases) has
    them: "<name> <name> <name> #<n>" with made-up names of four syllables (65,536 of them)."""
    rng = np.random.default_rng(0)
    names = ["".join(rng.choice(SYLLABLES, size=4)).capitalize() for _ in range(3 * n)]
    return [f"{names[3 * i]} {names[3 * i + 1]} {names[3 * i + 2]} #{i}" for i in range(n)]


@pytest.fixture(scope="module")
def templated(warehouse_url: str, fake_embedding_server) -> tuple[str, int, np.ndarray]:
    """20,000 templated MovieLens-kind texts embedded by the fake provider (a bag of words: titles sharing names are
    near each other), stored under a model of their own."""
    titles = templated_titles(20_000)
    vectors = np.vstack([FakeOpenAIServer.vector_for(t, DIMS) for t in titles])
    with connection.connect(warehouse_url) as conn:
        model_id = embedding_models.register_model(conn, "openai", MODEL, DIMS, "templated")
        sync.replace_all_vectors(conn, "movielens", model_id, [str(1_000_000 + i) for i in range(len(titles))],
                                 vectors, "templated", 32)
        conn.commit()
    return warehouse_url, model_id, vectors


FLOOR = 0.98


def test_default_depth_misses_the_floor_and_the_tuning_reaches_it(templated) -> None:
    url, model_id, _ = templated
    with connection.connect(url, autocommit=True) as conn:
        tuned = index_tuning.tune(conn, "movielens", model_id, DIMS, IndexSpec(), floor=FLOOR, max_p95_ms=1000.0,
                                  n_queries=100)
        index_tuning.record(conn, "movielens", model_id, tuned)
        default = RecallProbe(conn, "movielens", model_id, DIMS, n_queries=100).measure(conn, ef_search=40)
        recorded = index_tuning.search_settings(conn, "movielens", model_id)
    assert default.recall < FLOOR, f"pgvector's default ef_search 40 already reaches the floor ({default.recall})"
    assert not tuned.exact_fallback and tuned.chosen.recall >= FLOOR and tuned.chosen.ef_search > 40, tuned.summary()
    assert recorded is not None and (recorded.ef_search, recorded.exact) == (tuned.chosen.ef_search, False)


def test_the_live_query_path_sets_the_recorded_depth_inside_its_transaction(templated) -> None:
    url, model_id, _ = templated
    model = Model(model_id, "openai", MODEL, DIMS)
    with connection.connect(url, autocommit=True) as conn:
        recorded = index_tuning.search_settings(conn, "movielens", model_id)
        assert recorded is not None, "the tuning test records the settings first"
        q = FakeOpenAIServer.vector_for(templated_titles(3)[1], DIMS)
        with conn.transaction():
            found = knn(conn, "movielens", model, q, 10)
            in_query = conn.execute("SHOW hnsw.ef_search").fetchone()[0]
        after = conn.execute("SHOW hnsw.ef_search").fetchone()[0]
    assert found.index and not found.exact_fallback and len(found.rows) == 10
    assert int(in_query) == recorded.ef_search and int(after) == 40  # SET LOCAL: this transaction only


def test_no_setting_within_the_bound_means_exact_search_and_a_one_line_reason(templated) -> None:
    url, model_id, vectors = templated
    model = Model(model_id, "openai", MODEL, DIMS)
    with connection.connect(url, autocommit=True) as conn:
        tuned = index_tuning.tune(conn, "movielens", model_id, DIMS, IndexSpec(), floor=FLOOR, max_p95_ms=1e-6,
                                  n_queries=20)
        index_tuning.record(conn, "movielens", model_id, tuned)
        q = FakeOpenAIServer.vector_for(templated_titles(3)[2], DIMS)
        with conn.transaction():
            found = knn(conn, "movielens", model, q, 10)
        conn.execute("DELETE FROM movrec.vector_index_settings WHERE model_id = %s", (model_id,))
    assert tuned.exact_fallback and "search exactly" in tuned.summary() and "\n" not in tuned.summary()
    assert found.exact_fallback and found.index is None
    exact = {str(1_000_000 + i) for i in np.argsort(-(vectors @ q))[:10]}
    assert {key for key, _ in found.rows} == exact


def test_a_failing_recall_check_stops_no_batch_asset(pipeline, fake_embedding_server, monkeypatch) -> None:
    """With a latency bound no index can meet, the recall check fails (WARN), and the MovieLens item model, user
    lists, similar movies and the evaluation still materialize in the same run."""
    from movrec_pipeline.defs.resources import EmbeddingResource, IndexResource

    embedding = EmbeddingResource(provider="openai", model="fake-embed", dimensions=64,
                                  base_url=fake_embedding_server.base_url)
    selection = dg.AssetSelection.assets("movielens_vector_index", "movielens_model_selection", "movielens_item_model",
                                         "movielens_user_recommendations", "movielens_similar_movies",
                                         "recommendation_quality")
    result = materialize(selection, {"embedding": embedding, "index_settings": IndexResource(max_p95_ms=1e-6)},
                         partition_range=("b00", "b31"))
    checks = {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert not checks["movielens_index_recall"].passed
    assert checks["movielens_index_recall"].severity == dg.AssetCheckSeverity.WARN
    assert checks["movielens_catalogue_covered"].passed
    done = {e.event_specific_data.materialization.asset_key.to_user_string() for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert {"movielens_item_model", "movielens_user_recommendations", "movielens_similar_movies",
            "recommendation_quality"} <= done, step_errors(result)
    restored = materialize(dg.AssetSelection.assets("movielens_vector_index"), {"embedding": embedding})
    assert restored.success, step_errors(restored)  # later tests read a tuned index again
