"""Secrets (the provider key, the database password) never reach logs, events, run config or output.

A slice of the pipeline (film embeddings and their index) runs with a recognisable key and a
DATABASE_URL carrying a recognisable password (the embedded server trusts its Unix socket, so any
password connects); then failing runs: the provider rejects the key with a 401 that echoes it, the
database refuses the connection. Every event of every run (messages, metadata, errors), the runs'
config and tags, and everything printed to stdout/stderr are searched for the canaries.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from movrec_pipeline.cli import main as cli
from movrec_pipeline.defs.resources import PostgresResource
from movrec_pipeline.warehouse import embedded
from movrec_pipeline_tests.conftest import FULL_RANGE, materialize, step_errors
from movrec_pipeline_tests.reliability.conftest import FIGURES, embedding_resource

KEY = "sk-SECRET-canary-123"
PASSWORD = "pw-canary-456"
CANARIES = (KEY, PASSWORD, "SECRET-canary", "canary-456")


def leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def run_record(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    """Everything the UI can show about a run: its events (serialized whole) and the run with its config."""
    events = [serialize_value(entry) for entry in instance.all_logs(result.run_id)]
    assert len(events) > 5
    return "\n".join(events) + "\n" + serialize_value(instance.get_run_by_id(result.run_id))


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, baseline) -> str:
    socket_dir = parse_qs(urlsplit(embedded.server_uri()).query)["host"][0]
    url = f"postgresql://postgres:{PASSWORD}@/movrec?host={socket_dir}"
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_secrets_stay_out_of_events_config_and_output(secret_env: str, faults, capfd) -> None:
    faults.configure(require_api_key=KEY)  # only the canary key gets vectors: the key really was used
    instance = dg.DagsterInstance.ephemeral()
    ok = materialize(dg.AssetSelection.assets("film_embeddings", "film_vector_index"),
                     {"postgres": PostgresResource(database_url=dg.EnvVar("DATABASE_URL")),  # as the definitions do
                      # own model name: embedders are cached per config, not key
                      "embedding": embedding_resource(faults.base_url, "rel-secret", model="rel-secret-embed")},
                     partition_range=FULL_RANGE, instance=instance)
    assert ok.success, step_errors(ok)
    assert PostgresResource(database_url=secret_env).url() == secret_env  # the run's URL carries the password
    assert faults.stats["status"][200] > 0 and faults.stats["status"][401] == 0
    records = [run_record(instance, ok)]

    faults.configure(require_api_key="sk-another-key")  # 401 whose body echoes the key we sent
    bad_key = materialize(dg.AssetSelection.assets("film_embeddings"),
                          {"postgres": PostgresResource(database_url=dg.EnvVar("DATABASE_URL")),
                           "embedding": embedding_resource(faults.base_url, "rel-secret", model="rel-secret-401",
                                                           max_retries=0)},
                          partition_range=("b00", "b00"), instance=instance)
    assert not bad_key.success and faults.stats["status"][401] > 0
    assert any("rejected the API key (401)" in e for e in step_errors(bad_key))
    records.append(run_record(instance, bad_key))

    refused_url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/movrec"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOVREC_REL_REFUSED", refused_url)
        refused = materialize(dg.AssetSelection.assets("film_embeddings"),
                              {"postgres": PostgresResource(database_url=dg.EnvVar("MOVREC_REL_REFUSED")),
                               "embedding": embedding_resource(faults.base_url, "rel-secret")},
                              partition_range=("b00", "b00"), instance=instance)
    assert not refused.success
    assert any("cannot connect to postgresql://postgres:***@127.0.0.1:1/movrec" in e for e in step_errors(refused))
    records.append(run_record(instance, refused))

    # the CLI: the URL it prints, its status page, and its error when the database is unreachable
    assert cli.main(["db", "url"]) == 0
    assert cli.main(["status"]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", refused_url)
        assert cli.main(["status"]) == 2
    out, err = capfd.readouterr()
    assert "postgres:***@/movrec?host=" in out and "cannot connect to postgresql://postgres:***@127.0.0.1:1" in err

    # the search covers what matters: metadata values and error messages are in the records
    assert "provider_retries" in records[0] and "rejected the API key (401)" in records[1]
    found = {i: leaks(r) for i, r in enumerate(records) if leaks(r)}
    assert not found, f"secrets in the event log / run records: {found}"
    assert not leaks(out) and not leaks(err), (leaks(out), leaks(err))
    FIGURES.security["secrets kept out of events, run config, exceptions and CLI output"] = True


def test_a_rotated_api_key_takes_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-old-key-0001")
    resource = embedding_resource("http://127.0.0.1:9/v1", "rel-rotation", model="rel-rotation")
    assert resource.get_embedder()._client.api_key == "sk-old-key-0001"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-new-key-0002")
    assert resource.get_embedder()._client.api_key == "sk-new-key-0002"
