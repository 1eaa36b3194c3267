"""A real `movrec dev` (webserver + daemon + embedded PostgreSQL) for end-to-end tests, driven through GraphQL."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from movrec_pipeline.cli.supervise import group_members
from movrec_pipeline_tests.fake_openai import FakeOpenAIServer

PROJECT_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_DIR / "test-artifacts"
LOCATION = "movrec_pipeline"
REPOSITORY = "__repository__"
LOAD_TIMEOUT_S = 240
RUN_TIMEOUT_S = 8 * 60

BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on Error { message }
  }
}"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status runs { runId } } }
}"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status startTime endTime tags { key value } }
    ... on PythonError { message }
  }
}"""
RUN_EVENTS = """
query RunEvents($runId: ID!, $after: String) {
  logsForRun(runId: $runId, afterCursor: $after, limit: 5000) {
    __typename
    ... on EventConnection {
      cursor hasMore
      events {
        __typename
        ... on MessageEvent { message }
        ... on StepEvent { stepKey }
        ... on ExecutionStepFailureEvent { error { message } }
        ... on MaterializationEvent { assetKey { path } partition }
        ... on AssetCheckEvaluationEvent { evaluation { checkName success assetKey { path }
          metadataEntries { label ... on FloatMetadataEntry { floatValue } ... on IntMetadataEntry { intRepr }
            ... on BoolMetadataEntry { boolValue } ... on TextMetadataEntry { text } } } }
      }
    }
    ... on PythonError { message }
  }
}"""
STEP_STATS = """
query Steps($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { stepStats { stepKey status startTime endTime } } }
}"""
WORKSPACE = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
class GraphQLError(RuntimeError):
    pass


@dataclass
class DevServer:
    """A running `movrec dev` with its private MOVREC_HOME, fake provider and log file."""

    port: int
    home: Path
    fake: FakeOpenAIServer
    proc: subprocess.Popen
    log: Path
    env: dict[str, str] = field(default_factory=dict)  # the environment movrec dev runs with

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def gql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                payload = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # the webserver's error text says what broke
            raise GraphQLError(f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:3000]}") from None
        if payload.get("errors"):
            raise GraphQLError(json.dumps(payload["errors"])[:2000])
        return payload["data"]

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"movrec dev exited with {self.proc.returncode}:\n{self.log_tail()}")

    # -- readiness -----------------------------------------------------------------------------------
    def wait_loaded(self, timeout: float = LOAD_TIMEOUT_S) -> float:
        """Wait for /server_info, then for the code location to be LOADED; returns seconds waited."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            self.alive()
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"webserver did not answer in {timeout} s:\n{self.log_tail()}")
            time.sleep(1)
        while True:
            self.alive()
            entries = self.gql(WORKSPACE)["workspaceOrError"].get("locationEntries", [])
            entry = next((e for e in entries if e["name"] == LOCATION), None)
            if entry and entry["loadStatus"] == "LOADED":
                loaded = entry["locationOrLoadError"] or {}
                assert loaded.get("__typename") == "RepositoryLocation", f"code location failed to load: {loaded}"
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise AssertionError(f"code location not loaded in {timeout} s ({entries}):\n{self.log_tail()}")
            time.sleep(1)

    # -- runs ----------------------------------------------------------------------------------------
    def launch(self, job: str, tags: dict[str, str]) -> str:
        params = {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
                  "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}}
        result = self.gql(LAUNCH, {"params": params})["launchPipelineExecution"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def change_one_show(self) -> tuple[int, str]:
        """Change the description of one embedded Netflix show; returns its bucket and id."""
        import psycopg

        from movrec_pipeline.embedders.texts import bucket_of
        from movrec_pipeline.warehouse import embedded

        url = embedded.server_uri(self.home / "pgdata", database="movrec")
        with psycopg.connect(url) as conn:
            show_id = conn.execute("SELECT item_key FROM movrec.item_embeddings WHERE item_kind = 'netflix' "
                                   "ORDER BY item_key LIMIT 1").fetchone()[0]
            conn.execute("UPDATE netflix.shows SET description = description || ' (director''s cut)' "
                         "WHERE show_id = %s", (show_id,))
        return bucket_of(show_id, 32), show_id

    def wait_backfill(self, backfill_id: str, timeout: float = RUN_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            status = self.gql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            if status.get("status") not in (None, "REQUESTED", "CANCELING"):
                return status
            time.sleep(2)
        raise AssertionError(f"backfill {backfill_id} did not finish in {timeout} s:\n{self.log_tail()}")

    def wait_run(self, run_id: str, timeout: float = RUN_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            self.alive()
            run = self.gql(RUN, {"runId": run_id})["runOrError"]
            assert run["__typename"] == "Run", run
            if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s:\n"
                                     + "\n".join(self.failures(run_id)) + "\n" + self.log_tail())
            time.sleep(1)

    def step_summary(self, run_id: str, top: int = 8) -> str:
        """Steps' own time (STEP_START to end, without process start-up) and the slowest steps."""
        steps = self.gql(STEP_STATS, {"runId": run_id})["runOrError"]["stepStats"]
        spans = sorted(((s["endTime"] or 0) - (s["startTime"] or 0), s["stepKey"]) for s in steps)[::-1]
        slowest = ", ".join(f"{key} {sec:.1f}" for sec, key in spans[:top])
        return f"    {len(steps)} steps, {sum(sec for sec, _ in spans):.1f} s in steps; slowest: {slowest}"

    def events(self, run_id: str) -> list[dict]:
        events, cursor = [], None
        while True:
            conn = self.gql(RUN_EVENTS, {"runId": run_id, "after": cursor})["logsForRun"]
            assert conn["__typename"] == "EventConnection", conn
            events += conn["events"]
            cursor = conn["cursor"]
            if not conn["hasMore"]:
                return events

    def failures(self, run_id: str) -> list[str]:
        out = []
        for ev in self.events(run_id):
            if ev["__typename"] == "ExecutionStepFailureEvent":
                out.append(f"step {ev['stepKey']} failed: {(ev.get('error') or {}).get('message', '').strip()}")
            elif ev["__typename"] == "AssetCheckEvaluationEvent" and not ev["evaluation"]["success"]:
                meta = {e["label"]: next((v for k, v in e.items() if k != "label"), None)
                        for e in ev["evaluation"]["metadataEntries"]}
                out.append(f"check {ev['evaluation']['checkName']} failed: {meta}")
            elif ev["__typename"] in ("RunFailureEvent", "EngineEvent") and "fail" in (ev.get("message") or "").lower():
                out.append(f"{ev['__typename']}: {ev['message'][:300]}")
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM the whole group of `dagster dev` (it may ignore it), then SIGKILL whatever is left."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and (proc.poll() is None or group_members(pgid)):
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)


@contextlib.contextmanager
def running_dev_server(name: str, extra_env: dict[str, str] | None = None, *, item_limit: int = 150,
                       model: str = "fake-embed-e2e", start: Callable[[FakeOpenAIServer], None] | None = None
                       ) -> Iterator[DevServer]:
    """`movrec dev` on a free port with a fresh MOVREC_HOME (own Dagster home and embedded PostgreSQL), a fake
    OpenAI-compatible provider, and ``extra_env``; ``start(fake)`` runs before the server starts."""
    from movrec_pipeline.warehouse import embedded

    ARTIFACTS.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="movrec-e2e-"))
    home.chmod(0o755)  # the embedded server runs as another OS user
    fake = FakeOpenAIServer(dim=64)
    proc = None
    log = ARTIFACTS / f"{name}_dagster_dev.log"
    try:
        fake.start()
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if k not in ("DAGSTER_HOME", "MOVREC_DAGSTER_PG_URL", "DATABASE_URL")}
        env.update({
            "MOVREC_HOME": str(home),
            "MOVREC_DATA_DIR": os.environ["MOVREC_DATA_DIR"],
            "MOVREC_ITEM_LIMIT": str(item_limit),
            "OPENAI_API_KEY": "sk-test-e2e-0123456789",
            "MOVREC_EMBEDDING_PROVIDER": "openai",
            "MOVREC_EMBEDDING_MODEL": model,
            "MOVREC_EMBEDDING_DIMENSIONS": "64",
            "MOVREC_EMBEDDING_BASE_URL": fake.base_url,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        })
        if start is not None:
            start(fake)
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "movrec_pipeline.cli", "dev", "--port", str(port)],
                                    cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        yield DevServer(port=port, home=home, fake=fake, proc=proc, log=log, env=env)
    finally:
        if proc is not None:
            stop_process_group(proc)
        with contextlib.suppress(Exception):
            embedded.stop_server(home / "pgdata")
        fake.close()
        shutil.rmtree(home, ignore_errors=True)
