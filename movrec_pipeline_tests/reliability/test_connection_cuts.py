"""The warehouse connection cut (``pg_terminate_backend``) mid-COPY and mid-transaction.

The step fails cleanly (nothing of the cut transaction is visible), the asset's RetryPolicy re-runs it,
the retry succeeds. To cut at an exact point the test holds an uncommitted row with a key the step is
about to write: the step's COPY (or upsert) waits on it, visible in ``pg_stat_activity`` with the
application_name 'movrec' of our connections, and is terminated there.
"""

from __future__ import annotations

import threading
from pathlib import Path

import dagster as dg
import psycopg

from movrec_pipeline.defs.resources import SourcesResource
from movrec_pipeline_tests.conftest import FULL_RANGE, data_dir, materialize, step_errors
from movrec_pipeline_tests.reliability.conftest import (
    FIGURES,
    KIND_ITEMS,
    activity,
    compare_vectors,
    embedding_resource,
    one,
    register,
    rows_lost,
    snapshot,
    terminate,
    wait_for,
)

EXTRA_SHOW = ('s99999,Movie,The Blocked Copy,Ann Example,"A. Actor, B. Actor",Norway,"September 25, 2021",2020,'
              'PG-13,93 min,"Dramas, International Movies",A load is cut by an administrator and retried.')


class Background:
    """``materialize`` in a thread (the test thread watches the database meanwhile)."""

    def __init__(self, *args, **kwargs) -> None:
        self.result: dg.ExecuteInProcessResult | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=args, kwargs=kwargs, daemon=True)
        self.thread.start()

    def _run(self, *args, **kwargs) -> None:
        try:  # the instance's sqlite storage lives and dies in this thread
            with dg.DagsterInstance.ephemeral() as instance:
                self.result = materialize(*args, instance=instance, **kwargs)
        except BaseException as exc:  # surfaced by join()
            self.error = exc

    def join(self, timeout: float = 180) -> dg.ExecuteInProcessResult:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "materialization did not finish"
        if self.error:
            raise self.error
        return self.result


def retry_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """Per step retry, the messages of its error and of the errors that caused it (one string)."""
    out = []
    for event in result.all_events:
        if event.event_type_value == "STEP_UP_FOR_RETRY" and event.event_specific_data.error:
            error, parts = event.event_specific_data.error, []
            while error is not None:
                parts.append(error.message.strip())
                error = error.cause or error.context
            out.append(" <- ".join(parts))
    return out


def test_connection_cut_mid_publish_of_a_source_load(baseline, tmp_path: Path) -> None:
    url = baseline.url
    folder = tmp_path / "data"
    folder.mkdir()
    real = (data_dir() / "netflix_titles.csv").read_bytes()
    newline = b"\r\n" if b"\r\n" in real[:5000] else b"\n"
    (folder / "netflix_titles.csv").write_bytes(real.rstrip(b"\r\n") + newline + EXTRA_SHOW.encode() + newline)

    blocker = psycopg.connect(url)  # an uncommitted row in the published table: the swap waits for its lock
    try:
        blocker.execute("INSERT INTO netflix.shows (show_id, show_type, title) VALUES ('s99999', 'Movie', 'x')")
        run = Background(dg.AssetSelection.assets("netflix_titles"),
                         {"sources": SourcesResource(data_dir=str(folder), allow_download=False)})
        where = ("application_name = 'movrec' AND wait_event_type = 'Lock' "
                 "AND query LIKE '%%DROP TABLE IF EXISTS \"netflix\".\"shows\"%%'")
        copying = wait_for(lambda: activity(url, where) or not run.thread.is_alive(), 120, "the swap to wait")
        assert run.thread.is_alive(), step_errors(run.join())
        assert terminate(url, copying[0][0])
        # the cut transaction is gone without a trace: the previous complete table is what readers see
        assert not baseline.check_unchanged("netflix.shows", "movrec.quarantine")
    finally:
        blocker.rollback()
        blocker.close()
    result = run.join()
    assert result.success, step_errors(result)
    retried = retry_messages(result)
    assert len(retried) == 1 and "terminating connection due to administrator command" in retried[0], retried
    assert one(url, "SELECT count(*) FROM netflix.shows") == KIND_ITEMS["netflix"] + 1
    assert one(url, "SELECT title FROM netflix.shows WHERE show_id = 's99999'") == "The Blocked Copy"

    restore = materialize(dg.AssetSelection.assets("netflix_titles"))  # back to the real file
    assert restore.success, step_errors(restore)
    assert not baseline.check_unchanged("netflix.shows", "movrec.quarantine")
    FIGURES.fault("connection cut mid-COPY (source load)", True,
                  rows_lost(baseline.tables, snapshot(url, baseline.model_id)))


def test_connection_cut_mid_embedding_transaction(baseline, faults) -> None:
    url, version, batch = baseline.url, "rel-cut-embed", 100
    mid = register(url, version)
    blocker = psycopg.connect(url)  # film 451 uncommitted: batch 5 (films 401-500) waits in its upsert
    try:
        blocker.execute("INSERT INTO movrec.item_embeddings (item_kind, model_id, item_key, bucket, text_hash, "
                        "embedding) VALUES ('film', %s, '451', 0, 'blocker', '[1,2,3]')", (mid,))
        run = Background(dg.AssetSelection.assets("film_embeddings"),
                         {"embedding": embedding_resource(faults.base_url, version, write_batch_size=batch)},
                         partition_range=FULL_RANGE)
        where = ("application_name = 'movrec' AND wait_event_type = 'Lock' "
                 "AND query LIKE '%%INSERT INTO movrec.item_embeddings%%'")
        upserting = wait_for(lambda: activity(url, where) or not run.thread.is_alive(), 120, "the upsert to wait")
        assert run.thread.is_alive(), step_errors(run.join())
        assert terminate(url, upserting[0][0])
        committed = one(url, "SELECT count(*) FROM movrec.item_embeddings WHERE model_id = %s", (mid,))
        assert committed == 4 * batch  # four whole batches; nothing of the cut one
    finally:
        blocker.rollback()
        blocker.close()
    result = run.join()
    assert result.success, step_errors(result)
    retried = retry_messages(result)
    assert len(retried) == 1 and "terminating connection due to administrator command" in retried[0], retried
    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    meta = {k: v.value for k, v in mats[-1].metadata.items()}
    assert (meta["run_skipped_unchanged"], meta["run_embedded"]) == (4 * batch, KIND_ITEMS["film"] - 4 * batch)
    diff = compare_vectors(url, "film", mid, baseline.model_id)
    assert diff == {"extra": 0, "missing": 0, "different": 0, "rows": KIND_ITEMS["film"]}, diff
    FIGURES.fault("connection cut mid-transaction (embedding batch)", True, diff["missing"])
