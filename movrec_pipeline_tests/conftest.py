"""Shared fixtures: one embedded PostgreSQL per test session, real data from ../shared/data."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
os.environ.setdefault("MOVREC_DATA_DIR", str((PROJECT_DIR.parent / "shared" / "data").resolve()))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("OPENAI_API_KEY", None)  # tests never talk to the real API
os.environ.pop("DATABASE_URL", None)


GOAL_CHECKS = {"kfold_served_leads_baselines", "new_users_served_leads_baselines", "no_recall_traded",
               "cold_titles_found"}  # WARN checks of quality goals: reported with their figures, never blocking


def data_dir() -> Path:
    return Path(os.environ["MOVREC_DATA_DIR"])


@pytest.fixture(scope="session")
def movrec_home() -> Iterator[Path]:
    """A private MOVREC_HOME (embedded server, Dagster home) for the whole session.

    Not under pytest's tmp dir: that one is mode 0700 and the embedded server runs as its own user.
    """
    home = Path(tempfile.mkdtemp(prefix="movrec-test-"))
    home.chmod(0o755)
    os.environ["MOVREC_HOME"] = str(home)
    os.environ.pop("DAGSTER_HOME", None)
    yield home
    from movrec_pipeline.warehouse import embedded

    embedded.stop_server(home / "pgdata")
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse_url(movrec_home: Path) -> str:
    from movrec_pipeline.warehouse import connection

    url = connection.warehouse_url()
    connection.prepare_warehouse(url)
    return url


def all_defs() -> list:
    from movrec_pipeline.definitions import loaded

    defs = loaded()
    return list(defs.assets or []) + list(defs.asset_checks or [])


def materialize(selection: dg.AssetSelection, resources: dict | None = None, *,
                partition_range: tuple[str, str] | None = None,
                instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    """Materialize ``selection`` of the real definitions in-process."""
    from movrec_pipeline.definitions import loaded

    defs = loaded()
    tags = {}
    if partition_range:
        tags = {"dagster/asset_partition_range_start": partition_range[0],
                "dagster/asset_partition_range_end": partition_range[1]}
    return dg.materialize(all_defs(), selection=selection, resources={**defs.resources, **(resources or {})},
                          instance=instance or dg.DagsterInstance.ephemeral(), tags=tags, raise_on_error=False)


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.event_specific_data.check_name: e.event_specific_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def step_errors(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.event_specific_data.error.message for e in result.all_events
            if e.event_type_value == "STEP_FAILURE" and e.event_specific_data.error]


@pytest.fixture(scope="session")
def loaded_sources(warehouse_url: str) -> dg.ExecuteInProcessResult:
    """All source assets materialized once from the real files (with their checks)."""
    result = materialize(dg.AssetSelection.groups("sources"))
    assert result.success, step_errors(result)
    return result


FULL_RANGE = ("b00", "b31")
FAKE_PROVIDER_ENV = {
    "OPENAI_API_KEY": "sk-test-fake-key-0123456789",
    "MOVREC_EMBEDDING_PROVIDER": "openai",
    "MOVREC_EMBEDDING_MODEL": "fake-embed",
    "MOVREC_EMBEDDING_DIMENSIONS": "64",
}


@pytest.fixture(scope="session")
def fake_embedding_server() -> Iterator:
    """A local OpenAI-compatible server (deterministic vectors) for the whole session."""
    from movrec_pipeline_tests.fake_openai import FakeOpenAIServer

    with FakeOpenAIServer(dim=64) as srv:
        yield srv


@pytest.fixture(scope="session")
def pipeline_instance() -> dg.DagsterInstance:
    """The Dagster instance the session's pipeline ran on: a run on it sees the data versions it recorded (other
    tests' runs use instances of their own, so they always rebuild)."""
    return dg.DagsterInstance.ephemeral()


@pytest.fixture(scope="session")
def pipeline(loaded_sources, fake_embedding_server, pipeline_instance) -> dg.ExecuteInProcessResult:
    """The whole asset graph materialized once (fake provider, 64 dims), as the daily run does it.

    The provider settings stay in ``os.environ`` for the session, so CLI subprocesses see the same model.
    """
    from movrec_pipeline.defs.resources import EmbeddingResource

    os.environ.update({**FAKE_PROVIDER_ENV, "MOVREC_EMBEDDING_BASE_URL": fake_embedding_server.base_url})
    embedding = EmbeddingResource(provider="openai", model="fake-embed", dimensions=64,
                                  base_url=fake_embedding_server.base_url)
    result = materialize(dg.AssetSelection.all(), {"embedding": embedding}, partition_range=FULL_RANGE,
                         instance=pipeline_instance)
    assert result.success, step_errors(result)
    return result


# The fast tier (`pytest -m "not slow"`) is what needs none of: the embedded server, a Dagster run, the real
# model, a browser. Tests that use such a fixture, or live in e2e/ or reliability/, are marked slow here.
SLOW_FIXTURES = {"movrec_home", "warehouse_url", "loaded_sources", "pipeline", "pipeline_instance", "embedder",
                 "baseline"}
SLOW_FOLDERS = ("e2e/", "reliability/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.nodeid.startswith(
                tuple(f"movrec_pipeline_tests/{folder}" for folder in SLOW_FOLDERS)):
            item.add_marker(pytest.mark.slow)
