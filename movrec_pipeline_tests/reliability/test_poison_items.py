"""One bad item never fails an embedding asset, and bucket backfills succeed on their own.

A provider that refuses exactly two of the 8,809 Netflix texts (400, as a content filter does) and returns
NaN for a third: the asset succeeds with 8,806 vectors, the three are recorded in ``movrec.embedding_errors``,
the WARN check lists them, the blocking coverage checks pass; later runs send only those three again, until
they are parked after three attempts.
"""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from movrec_pipeline.embedders import sync, texts
from movrec_pipeline_tests.conftest import FAKE_PROVIDER_ENV, FULL_RANGE, materialize, step_errors
from movrec_pipeline_tests.reliability.conftest import FIGURES, embedding_resource, model_id, one

TEMPLATE = "rel-poison"


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_PROVIDER_ENV["OPENAI_API_KEY"])


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, str]]:
    return {e.event_specific_data.check_name: (e.event_specific_data.passed, e.event_specific_data.severity.value)
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def _netflix_texts(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        items, _ = sync.load_items(conn, "netflix", texts.DEFAULT_TEMPLATES["netflix"], 32, range(32))
    return {it.key: it.text for it in items}


def test_two_refused_and_one_nan_item_are_isolated_recorded_and_retried_with_a_limit(
        loaded_sources, warehouse_url: str, faults) -> None:
    all_texts = _netflix_texts(warehouse_url)
    poison = {"s17": "refused", "s4242": "refused", "s8000": "nan"}
    faults.configure(reject=(all_texts["s17"], all_texts["s4242"]), nan=all_texts["s8000"])
    selection = dg.AssetSelection.assets("netflix_embeddings", "netflix_vector_index")
    resources = {"embedding": embedding_resource(faults.base_url, TEMPLATE)}

    first = materialize(selection, resources, partition_range=FULL_RANGE)
    assert first.success, step_errors(first)
    model = model_id(warehouse_url, TEMPLATE)
    vectors = one(warehouse_url, "SELECT count(*) FROM movrec.item_embeddings WHERE item_kind = 'netflix' "
                                 "AND model_id = %s", (model,))
    assert vectors == 8806
    with psycopg.connect(warehouse_url) as conn:
        errors = dict(conn.execute("SELECT item_key, attempts FROM movrec.embedding_errors WHERE model_id = %s",
                                   (model,)).fetchall())
        classes = {r[0] for r in conn.execute("SELECT error_class FROM movrec.embedding_errors WHERE model_id = %s",
                                              (model,)).fetchall()}
    assert errors == dict.fromkeys(poison, 1) and classes == {"ItemRejectedError"}
    checks = _checks(first)
    assert checks["netflix_embedding_errors"] == (False, "WARN")
    assert checks["netflix_vectors_complete"][0] and checks["netflix_catalogue_covered"][0]
    metadata = [e.event_specific_data.materialization.metadata for e in first.all_events
                if e.event_type_value == "ASSET_MATERIALIZATION"
                and e.event_specific_data.materialization.asset_key.to_user_string() == "netflix_embeddings"]
    assert metadata[0]["run_failed"].value == 3
    assert sum(m["failed"].value for m in metadata) == 3  # per bucket, on each bucket's own event

    for attempt in (2, 3):  # later runs send the three again, and only them
        faults.reset_stats()
        again = materialize(selection, resources, partition_range=FULL_RANGE)
        assert again.success, step_errors(again)
        assert set(faults.stats["texts"]) == {all_texts[k] for k in poison}, faults.stats["texts"]
        assert one(warehouse_url, "SELECT min(attempts) FROM movrec.embedding_errors WHERE model_id = %s",
                   (model,)) == attempt
    faults.reset_stats()
    parked = materialize(selection, resources, partition_range=FULL_RANGE)  # after the limit: none
    assert parked.success, step_errors(parked)
    assert faults.stats["requests"] == 0
    FIGURES.cases["poison items: 2 refused + 1 NaN isolated, retried twice, then parked"] = True

    faults.configure(reject=(), nan=False)  # the provider is fixed, the texts too: a changed text is sent again
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("UPDATE netflix.shows SET description = description || ' (restored)' WHERE show_id = 's17'")
    fixed = materialize(selection, resources, partition_range=FULL_RANGE)
    assert fixed.success, step_errors(fixed)
    assert one(warehouse_url, "SELECT count(*) FROM movrec.embedding_errors WHERE model_id = %s", (model,)) == 2
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("UPDATE netflix.shows SET description = left(description, -11) WHERE show_id = 's17'")


def test_a_flood_of_refusals_blocks_what_reads_all_buckets(loaded_sources, warehouse_url: str, faults) -> None:
    all_texts = _netflix_texts(warehouse_url)
    refused = tuple(text for key, text in sorted(all_texts.items())[:200])  # 200 of 8,809: 2.3 % > 1 %
    faults.configure(reject=refused)
    result = materialize(dg.AssetSelection.assets("netflix_embeddings", "netflix_vector_index"),
                         {"embedding": embedding_resource(faults.base_url, TEMPLATE + "-flood")},
                         partition_range=FULL_RANGE)
    checks = _checks(result)
    assert checks["netflix_vectors_complete"] == (False, "ERROR")  # blocking: nothing downstream runs on this
    assert "netflix_vector_index" not in {e.event_specific_data.materialization.asset_key.to_user_string()
                                          for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    FIGURES.cases["poison items: a flood of refusals fails the blocking coverage check"] = True


def test_provider_refusing_everything_fails_at_once(loaded_sources, faults) -> None:
    faults.configure(force_status=400)
    result = materialize(dg.AssetSelection.assets("film_embeddings"),
                         {"embedding": embedding_resource(faults.base_url, TEMPLATE + "-all")},
                         partition_range=FULL_RANGE)
    errors = step_errors(result)
    assert not result.success and len(errors) == 1 and "rejected the input (400" in errors[0], errors
    assert faults.stats["requests"] <= 5  # the batch (two requests at most), three probes: no bisection
    FIGURES.cases["poison items: a provider refusing every input fails at once"] = True


def test_bucket_backfills_succeed_on_a_fresh_instance(loaded_sources, fake_embedding_server) -> None:
    resources = {"embedding": embedding_resource(fake_embedding_server.base_url, "rel-buckets")}
    instance = dg.DagsterInstance.ephemeral()
    from movrec_pipeline_tests.conftest import all_defs

    one_bucket = dg.materialize(all_defs(), selection=dg.AssetSelection.assets("netflix_embeddings"),
                                resources={**_resources(), **resources}, instance=instance, partition_key="b00",
                                raise_on_error=False)
    assert one_bucket.success, step_errors(one_bucket)
    assert all(passed for passed, _ in _checks(one_bucket).values()), _checks(one_bucket)
    three = materialize(dg.AssetSelection.assets("netflix_embeddings"), resources, partition_range=("b00", "b02"),
                        instance=instance)
    assert three.success, step_errors(three)
    assert all(passed for passed, _ in _checks(three).values()), _checks(three)
    FIGURES.cases["backfill of b00 alone and of b00-b02 on a fresh instance: green"] = True


def _resources() -> dict:
    from movrec_pipeline.definitions import loaded

    return dict(loaded().resources)
