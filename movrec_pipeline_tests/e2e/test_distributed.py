"""Steps on a real distributed executor: a Dask scheduler and two Dask workers, each in its own process.

`movrec dev` (webserver + daemon) runs with ``MOVREC_DASK_SCHEDULER`` (the Dask executor is then the code
location's executor) and ``MOVREC_BUCKETS_PER_RUN=8`` (a backfill of 32 buckets becomes 4 runs). Through its
GraphQL API, as a user would through the UI, the test:

1. runs ``daily_refresh`` (its own in-process executor): the one-process reference tables;
2. deletes the text vectors and launches an **asset backfill** of the three embedding assets over all buckets:
   4 runs, every step executed in a process started by a Dask worker (the worker says so in the run's event
   log, and the step's events carry that process's pid, never the run process's);
3. forgets the recommendation assets' data versions and launches **one run of the recommendation assets**
   (item model fitted once, user buckets scored, similar movies, customer picks) on the workers;
4. compares vectors and recommendation tables with the one-process reference (bit for bit: the fake provider
   is deterministic, and scores are computed by the same code on the same inputs);
5. slows the provider, launches an embedding run, **SIGKILLs the worker process running its step** mid-step:
   Dask reschedules the task on the other worker, and the run ends successful.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from dagster import AssetKey

from movrec_pipeline_tests.e2e.devserver import (
    ARTIFACTS,
    BACKFILL,
    LAUNCH,
    LOCATION,
    PROJECT_DIR,
    REPOSITORY,
    DevServer,
    free_port,
    running_dev_server,
)

pytestmark = pytest.mark.slow

RANGE_TAGS = {"dagster/asset_partition_range_start": "b00", "dagster/asset_partition_range_end": "b31"}
TEXT_ASSETS = ["film_embeddings", "netflix_embeddings", "movielens_movie_embeddings"]
RECOMMENDATION_ASSETS = ["customer_profiles", "customer_netflix_recommendations", "movielens_item_model",
                         "movielens_user_recommendations", "movielens_similar_movies"]
TABLES = {  # what the one-process and the distributed path must agree on (timestamps left out)
    "vectors": "SELECT e.item_kind || e.item_key || e.text_hash || e.embedding::text FROM movrec.item_embeddings e "
               "JOIN movrec.embedding_models m USING (model_id) WHERE m.provider = 'openai' ORDER BY 1",
    "customer_profiles": "SELECT customer_id || profile::text FROM movrec.customer_profiles ORDER BY customer_id",
    "customer_netflix_recommendations": "SELECT concat_ws(',', customer_id, rank, show_id, score, because_film_id) "
                                        "FROM movrec.customer_netflix_recommendations ORDER BY customer_id, rank",
    "movielens_user_recommendations": "SELECT concat_ws(',', user_id, rank, movie_id, score, because_movie_ids, "
                                      "explanation) FROM movrec.movielens_user_recommendations ORDER BY 1",
    "movielens_similar_movies": "SELECT concat_ws(',', movie_id, source, rank, similar_movie_id, similarity) "
                                "FROM movrec.movielens_similar_movies ORDER BY 1",
}
SENSOR = """
query Sensor($sensor: SensorSelector!) { sensorOrError(sensorSelector: $sensor) { ... on Sensor { id } } }"""
STOP_SENSOR = """
mutation Stop($id: String) { stopSensor(id: $id) { __typename } }"""


class DaskCluster:
    """``dask scheduler`` and two ``dask worker`` processes (no nanny: a killed worker stays dead) on loopback."""

    def __init__(self, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.port = port
        self.address = f"tcp://127.0.0.1:{port}"
        self.env, self.log_dir = env, log_dir
        self.procs: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.log_dir / f"dask_{name}.log").open("wb")
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dask")), *args], cwd=PROJECT_DIR, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self) -> DaskCluster:
        self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                    "--no-dashboard", "--no-show")
        for name in ("w1", "w2"):
            self.workers[name] = self._start(name, "worker", self.address, "--name", name, "--nthreads", "1",
                                             "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                                             "--memory-limit", "0")
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        return self

    def busy_worker(self) -> str | None:
        """The name of a worker that is running a task right now."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            processing = client.processing()
            names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
        return next((names[addr] for addr, tasks in processing.items() if tasks), None)

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster_and_server() -> Iterator[tuple[DaskCluster, DevServer]]:
    ARTIFACTS.mkdir(exist_ok=True)
    scheduler_port = free_port()
    extra = {"MOVREC_DASK_SCHEDULER": f"tcp://127.0.0.1:{scheduler_port}", "MOVREC_BUCKETS_PER_RUN": "8",
             # batches of 10: a step writes a dozen batches, so a worker can be killed between two of them
             "MOVREC_EMBEDDING_BATCH_SIZE": "10", "MOVREC_EMBEDDING_REQUEST_ITEMS": "10"}
    with running_dev_server("distributed", extra, item_limit=120, model="fake-embed-dist") as server:
        server.wait_loaded()
        env = dict(server.env)  # the workers see what the run workers see, plus the instance
        exports = subprocess.run([sys.executable, "-m", "movrec_pipeline.cli", "env"], env=env, capture_output=True,
                                 text=True, check=True, cwd=PROJECT_DIR).stdout
        for line in exports.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip("'")
        cluster = DaskCluster(scheduler_port, env, ARTIFACTS).start()
        try:
            yield cluster, server
        finally:
            cluster.stop()


@contextlib.contextmanager
def _instance(server: DevServer) -> Iterator:
    """The dev server's instance, its storage URL set only while it is open (later tests never see it)."""
    import dagster as dg

    before = os.environ.get("MOVREC_DAGSTER_PG_URL")
    os.environ["MOVREC_DAGSTER_PG_URL"] = server.env.get("MOVREC_DAGSTER_PG_URL") or _dagster_url(server)
    try:
        with dg.DagsterInstance.from_config(str(server.home / "dagster_home")) as instance:
            yield instance
    finally:
        if before is None:
            os.environ.pop("MOVREC_DAGSTER_PG_URL", None)
        else:
            os.environ["MOVREC_DAGSTER_PG_URL"] = before


def _dagster_url(server: DevServer) -> str:
    from movrec_pipeline.warehouse import connection, embedded

    return connection.sqlalchemy_url(embedded.server_uri(server.home / "pgdata", database="dagster"))


def _warehouse(server: DevServer) -> str:
    from movrec_pipeline.warehouse import embedded

    return embedded.server_uri(server.home / "pgdata", database="movrec")


def digests(server: DevServer) -> dict[str, tuple[int, str]]:
    with psycopg.connect(_warehouse(server)) as conn:
        return {name: conn.execute(f"SELECT count(*), md5(string_agg(t.r, '|')) FROM ({query}) AS t(r)")  # noqa: S608
                .fetchone() for name, query in TABLES.items()}


def placements(server: DevServer, run_ids: list[str]) -> tuple[list[tuple[str, int]], dict[int, str], set[int]]:
    """From the instance's event log: (step key, pid) of every STEP_START, the Dask worker of each step process
    (the engine event a worker writes before starting one), and the run processes' pids."""
    starts, workers, runs = [], {}, set()
    with _instance(server) as instance:
        for run_id in run_ids:
            for entry in instance.all_logs(run_id):
                event = entry.dagster_event
                if event is None:
                    continue
                if event.event_type_value == "STEP_START":
                    starts.append((entry.step_key, event.pid))
                elif event.event_type_value == "RUN_START":
                    runs.add(event.pid)
                elif event.event_type_value == "ENGINE_EVENT":
                    metadata = event.engine_event_data.metadata or {}
                    if "dask_worker" in metadata:
                        workers[int(metadata["pid"].value)] = str(metadata["dask_worker"].value)
    return starts, workers, runs


def launch_assets(server: DevServer, assets: list[str], tags: dict[str, str]) -> str:
    params = {"selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": "__ASSET_JOB",
                           "assetSelection": [{"path": [a]} for a in assets]},
              "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}}
    result = server.gql(LAUNCH, {"params": params})["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def test_steps_run_on_dask_workers_and_match_the_one_process_path(cluster_and_server) -> None:
    _, server = cluster_and_server
    sensor = server.gql(SENSOR, {"sensor": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                                            "sensorName": "movrec_automation"}})["sensorOrError"]
    server.gql(STOP_SENSOR, {"id": sensor["id"]})  # the runs below are launched by hand, nothing else

    # 1. one process: the daily refresh (in-process executor)
    reference_run = server.launch("daily_refresh", {**RANGE_TAGS, "movrec/trigger": "e2e-reference"})
    assert server.wait_run(reference_run)["status"] == "SUCCESS", server.failures(reference_run)
    reference = digests(server)
    assert all(n > 0 for n, _ in reference.values()), reference

    # 2. a multi-run asset backfill of the embedding buckets on the workers
    with psycopg.connect(_warehouse(server)) as conn:
        conn.execute("DELETE FROM movrec.item_embeddings e USING movrec.embedding_models m "
                     "WHERE e.model_id = m.model_id AND m.provider = 'openai'")
    backfill = server.gql(BACKFILL, {"params": {"allPartitions": True,
                                                "assetSelection": [{"path": [a]} for a in TEXT_ASSETS]}})
    backfill = backfill["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    status = server.wait_backfill(backfill["backfillId"])
    run_ids = [r["runId"] for r in status["runs"]]
    assert status["status"] == "COMPLETED_SUCCESS" and len(run_ids) == 4, status  # 32 buckets / 8 per run
    starts, workers, runs = placements(server, run_ids)
    pids = {pid for _, pid in starts}
    assert starts and pids <= set(workers) and not pids & runs, (starts, workers, runs)  # every step on a worker
    assert len(starts) == len(run_ids) * len({key for key, _ in starts})  # every step once in every run
    used = {workers[p] for p in pids}

    # 3. one run of the recommendation assets on the workers (the item model fitted once, then scored)
    with _instance(server) as instance:  # forget their data versions: the run below rebuilds them all
        instance.wipe_assets([AssetKey(a) for a in RECOMMENDATION_ASSETS])
    with psycopg.connect(_warehouse(server)) as conn:
        conn.execute("DELETE FROM movrec.model_artifacts")
    recs = launch_assets(server, RECOMMENDATION_ASSETS, RANGE_TAGS)
    assert server.wait_run(recs)["status"] == "SUCCESS", server.failures(recs)
    starts, workers, runs = placements(server, [recs])
    pids = {pid for _, pid in starts}
    assert {key for key, _ in starts} >= set(RECOMMENDATION_ASSETS) and pids <= set(workers) and not pids & runs
    used |= {workers[p] for p in pids}
    assert used == {"w1", "w2"}  # both workers took steps

    # 4. the same tables as the one-process path, bit for bit
    assert digests(server) == reference


def test_a_worker_killed_mid_step_ends_in_a_retried_successful_run(cluster_and_server) -> None:
    cluster, server = cluster_and_server
    with psycopg.connect(_warehouse(server)) as conn:
        conn.execute("DELETE FROM movrec.item_embeddings e USING movrec.embedding_models m "
                     "WHERE e.model_id = m.model_id AND m.provider = 'openai' AND e.item_kind = 'netflix'")
    server.fake.configure(latency_s=1.5)  # 12 batches of 10, ~1.5 s each: the step runs long enough to be killed
    try:
        run_id = launch_assets(server, ["netflix_embeddings"], RANGE_TAGS)
        deadline = time.monotonic() + 120
        victim = None
        while victim is None and time.monotonic() < deadline:
            victim = cluster.busy_worker()
            time.sleep(0.5)
        assert victim, "no worker took the step"
        while _netflix_vectors(server) == 0 and time.monotonic() < deadline:  # mid-step: a first batch written,
            time.sleep(0.1)                                                 # the other buckets still to come
        assert 0 < _netflix_vectors(server) < 120, "the step wrote nothing, or everything, before the kill"
        os.kill(cluster.workers[victim].pid, signal.SIGKILL)
        cluster.workers[victim].wait(timeout=30)
        server.fake.configure(latency_s=0.0)
        run = server.wait_run(run_id)
    finally:
        server.fake.configure(latency_s=0.0)
    assert run["status"] == "SUCCESS", server.failures(run_id)
    starts, workers, _ = placements(server, [run_id])
    embedding_starts = [workers.get(pid) for key, pid in starts if key == "netflix_embeddings"]
    assert len(embedding_starts) == 2 and embedding_starts[0] == victim != embedding_starts[1], (starts, workers)
    assert _netflix_vectors(server) == 120  # MOVREC_ITEM_LIMIT items, each once


def _netflix_vectors(server: DevServer) -> int:
    with psycopg.connect(_warehouse(server)) as conn:
        return conn.execute("SELECT count(*) FROM movrec.item_embeddings e JOIN movrec.embedding_models m "
                            "USING (model_id) WHERE m.provider = 'openai' AND e.item_kind = 'netflix'").fetchone()[0]
