"""Fixtures and helpers of the reliability suite: a clean baseline, fault servers, workers, snapshots.

The suite runs on the session's embedded server (``movrec_home``). ``baseline`` materializes the slice of
the graph the faults touch (sources, film and Netflix embeddings, their indexes, customer profiles and
Netflix recommendations) with the fake provider and the same settings as the session's ``pipeline``
fixture, then snapshots every table: that snapshot is the uninterrupted run every fault is compared with.
Every test leaves the warehouse as the baseline left it (other test modules run after this package).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from movrec_pipeline_tests.conftest import FAKE_PROVIDER_ENV, FULL_RANGE, materialize, step_errors
from movrec_pipeline_tests.fake_openai import FakeOpenAIServer

PROJECT_DIR = Path(__file__).resolve().parents[2]
MODEL, DIMS = "fake-embed", 64  # the session pipeline's model: vectors are comparable across template versions
REL_TAG = "rel-"  # template versions (and model names) registered by this suite; removed at the end

BASELINE_ASSETS = ("film_embeddings", "netflix_embeddings", "film_vector_index", "netflix_vector_index",
                   "customer_profiles", "customer_netflix_recommendations")

# Every table the faults can touch: (row count, md5 of the ordered rows without timestamps of the build).
DIGESTS = {
    "dvdrental.film": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY film_id)) FROM dvdrental.film t",
    "dvdrental.customer": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY customer_id)) "
                          "FROM dvdrental.customer t",
    "dvdrental.rental": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY rental_id)) FROM dvdrental.rental t",
    "dvdrental.inventory": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY inventory_id)) "
                           "FROM dvdrental.inventory t",
    "netflix.shows": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY show_id)) FROM netflix.shows t",
    "movielens.movies": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY movie_id)) FROM movielens.movies t",
    "movielens.ratings": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY user_id, movie_id)) "
                         "FROM movielens.ratings t",
    "movielens.links": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY movie_id)) FROM movielens.links t",
    "movielens.tags": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM movielens.tags t",
    "movrec.quarantine": "SELECT count(*), md5(string_agg(concat_ws(',', source, line_no, reason), '|' "
                         "ORDER BY source, line_no)) FROM movrec.quarantine",
    "movrec.customer_profiles": "SELECT count(*), md5(string_agg(concat_ws(',', customer_id, n_films, "
                                "profile::text), '|' ORDER BY customer_id)) FROM movrec.customer_profiles",
    "movrec.profile_gaps": "SELECT count(*), md5(string_agg(concat_ws(',', customer_id, reason), '|' "
                           "ORDER BY customer_id)) FROM movrec.profile_gaps",
    "movrec.customer_netflix_recommendations": (
        "SELECT count(*), md5(string_agg(concat_ws(',', customer_id, rank, show_id, score, because_film_id), "
        "'|' ORDER BY customer_id, rank)) FROM movrec.customer_netflix_recommendations"),
    "vectors:film": "SELECT count(*), md5(string_agg(item_key || text_hash || embedding::text, '|' ORDER BY "
                    "item_key)) FROM movrec.item_embeddings WHERE item_kind = 'film' AND model_id = %(model_id)s",
    "vectors:netflix": "SELECT count(*), md5(string_agg(item_key || text_hash || embedding::text, '|' ORDER BY "
                       "item_key)) FROM movrec.item_embeddings WHERE item_kind = 'netflix' "
                       "AND model_id = %(model_id)s",
}
KIND_ITEMS = {"film": 1000, "netflix": 8809}


# -- figures for the terminal summary and docs/reliability.md ------------------------------------------------
@dataclass
class Figures:
    faults: dict[str, bool] = field(default_factory=dict)  # fault -> survived (re-run equals the clean run)
    cases: dict[str, bool] = field(default_factory=dict)  # hostile-input case -> handled as expected
    security: dict[str, bool] = field(default_factory=dict)  # security check -> passed
    rows_lost: int = 0
    retries: dict[str, int] = field(default_factory=dict)  # provider storm -> provider_retries

    def fault(self, name: str, survived: bool, lost: int = 0) -> None:
        self.faults[name] = survived
        self.rows_lost += lost


FIGURES = Figures()


def pytest_terminal_summary(terminalreporter) -> None:
    if not (FIGURES.faults or FIGURES.cases):
        return
    survived = sum(FIGURES.faults.values())
    handled = sum(FIGURES.cases.values())
    terminalreporter.write_sep("-", "reliability figures")
    terminalreporter.write_line(f"faults survived: {survived}/{len(FIGURES.faults)}; hostile-input cases handled: "
                                f"{handled}/{len(FIGURES.cases)}; security checks passed: "
                                f"{sum(FIGURES.security.values())}/{len(FIGURES.security)}; "
                                f"rows lost: {FIGURES.rows_lost}")
    if FIGURES.retries:
        terminalreporter.write_line("provider_retries per storm: " + json.dumps(FIGURES.retries))


# -- database helpers -------------------------------------------------------------------------------------------
def one(url: str, query: str, params: object = None) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def model_id(url: str, template_version: str, model: str = MODEL, dims: int = DIMS) -> int | None:
    return one(url, "SELECT model_id FROM movrec.embedding_models WHERE provider = 'openai' AND model = %s "
                    "AND dimensions = %s AND template_version = %s", (model, dims, template_version))


def register(url: str, template_version: str, model: str = MODEL, dims: int = DIMS) -> int:
    from movrec_pipeline.warehouse import embedding_models as registry

    with psycopg.connect(url, autocommit=True) as conn:
        return registry.register_model(conn, "openai", model, dims, template_version)


def snapshot(url: str, model: int) -> dict[str, tuple[int, str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {name: tuple(conn.execute(q, {"model_id": model} if "%(" in q else None).fetchone())
                for name, q in DIGESTS.items()}


def rows_lost(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> int:
    return sum(max(0, before[t][0] - after[t][0]) for t in before)


def compare_vectors(url: str, kind: str, model: int, reference: int) -> dict[str, int]:
    """Items of ``kind`` under ``model`` against the clean run's ``reference`` model (same provider vectors)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("""
            SELECT count(*) FILTER (WHERE r.item_key IS NULL),
                   count(*) FILTER (WHERE m.item_key IS NULL),
                   count(*) FILTER (WHERE m.item_key IS NOT NULL AND r.item_key IS NOT NULL
                                     AND (m.embedding <> r.embedding OR m.text_hash <> r.text_hash)),
                   count(m.item_key)
              FROM (SELECT * FROM movrec.item_embeddings WHERE item_kind = %(k)s AND model_id = %(m)s) m
              FULL JOIN (SELECT * FROM movrec.item_embeddings WHERE item_kind = %(k)s AND model_id = %(r)s) r
                USING (item_key)""", {"k": kind, "m": model, "r": reference}).fetchone()
    return {"extra": row[0], "missing": row[1], "different": row[2], "rows": row[3]}


def activity(url: str, where: str, params: object = None) -> list[tuple]:
    """(pid, application_name, wait_event_type, query) of other backends matching ``where``."""
    with psycopg.connect(url, autocommit=True) as conn:
        query = sql.SQL("SELECT pid, application_name, wait_event_type, query FROM pg_stat_activity "
                        "WHERE pid <> pg_backend_pid() AND ({})").format(sql.SQL(where))  # where: the tests' own text
        return conn.execute(query, params).fetchall()


def terminate(url: str, pid: int) -> bool:
    return bool(one(url, "SELECT pg_terminate_backend(%s)", (pid,)))


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.02) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# -- run workers ------------------------------------------------------------------------------------------------
class Worker:
    """``worker.py`` in a subprocess (its own session, so a SIGKILL hits exactly this process).

    Output goes to files, not pipes: a worker nobody reads from must never block on a full pipe.
    """

    def __init__(self, spec: dict, env: dict[str, str] | None = None) -> None:
        import tempfile

        self.out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the worker
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "movrec_pipeline_tests.reliability.worker", json.dumps(spec)],
            cwd=PROJECT_DIR, env=env or dict(os.environ), stdout=self.out, stderr=self.err, text=True,
            start_new_session=True)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def result(self, timeout: float = 240) -> dict:
        self.proc.wait(timeout=timeout)
        self.out.seek(0)
        self.err.seek(0)
        out, err = self.out.read(), self.err.read()
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        assert lines, f"worker died (exit {self.proc.returncode}):\n{err[-3000:]}"
        result = json.loads(lines[-1][len("RESULT "):])
        result["stdout"], result["stderr"] = out, err
        return result


def embedding_spec(base_url: str, template_version: str, **kw) -> dict:
    return {"provider": "openai", "model": kw.pop("model", MODEL), "dimensions": kw.pop("dimensions", DIMS),
            "base_url": base_url, "template_version": template_version, **kw}


def embedding_resource(base_url: str, template_version: str = "v1", **kw):
    from movrec_pipeline.defs.resources import EmbeddingResource

    return EmbeddingResource(**embedding_spec(base_url, template_version, **kw))


# -- fixtures ---------------------------------------------------------------------------------------------------
@dataclass
class Baseline:
    url: str
    model_id: int  # the clean run's text model (fake-embed, 64, v1)
    base_url: str  # the session fake provider
    tables: dict[str, tuple[int, str]]

    def check_unchanged(self, *names: str) -> dict[str, tuple]:
        """Tables (default: all) whose content differs from the clean run: {} when nothing changed."""
        now = snapshot(self.url, self.model_id)
        return {n: (self.tables[n], now[n]) for n in (names or self.tables) if now[n] != self.tables[n]}


@pytest.fixture(scope="session")
def baseline(loaded_sources, warehouse_url: str, fake_embedding_server: FakeOpenAIServer) -> Iterator[Baseline]:
    """The uninterrupted run of the slice every fault touches (same settings as the session pipeline)."""
    os.environ.update({**FAKE_PROVIDER_ENV, "MOVREC_EMBEDDING_BASE_URL": fake_embedding_server.base_url})
    result = materialize(dg.AssetSelection.assets(*BASELINE_ASSETS),
                         {"embedding": embedding_resource(fake_embedding_server.base_url)}, partition_range=FULL_RANGE)
    assert result.success, step_errors(result)
    ref = model_id(warehouse_url, "v1")
    tables = snapshot(warehouse_url, ref)
    assert tables["vectors:film"][0] == 1000 and tables["vectors:netflix"][0] == 8809, tables
    assert tables["movrec.customer_netflix_recommendations"][0] == 5990
    yield Baseline(warehouse_url, ref, fake_embedding_server.base_url, tables)
    drop_suite_models(warehouse_url)


def drop_suite_models(url: str) -> None:
    """Remove the vectors, indexes and registry rows of the models this suite registered."""
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT model_id FROM movrec.embedding_models WHERE template_version "
                                          "LIKE %s OR model LIKE %s", (REL_TAG + "%", REL_TAG + "%")).fetchall()]
        for mid in ids:
            for (name,) in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'movrec' AND "
                                        "indexname ~ %s", (rf"^item_emb_[a-z]+_m{mid}_",)).fetchall():
                conn.execute(sql.SQL("DROP INDEX IF EXISTS movrec.{}").format(sql.Identifier(name)))
        conn.execute("DELETE FROM movrec.item_embeddings WHERE model_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM movrec.embedding_errors WHERE model_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM movrec.embedding_models WHERE model_id = ANY(%s)", (ids,))


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FakeOpenAIServer]:
    """A second fake provider, for injecting faults without touching the session's clean one."""
    with FakeOpenAIServer(dim=DIMS) as srv:
        yield srv


@pytest.fixture
def faults(fault_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """``fault_server`` reset to healthy before and after the test."""
    healthy = dict(latency_s=0.0, fail_rate_429=0.0, fail_rate_500=0.0, fail_rate_503=0.0, hang_rate=0.0,
                   retry_after=None, retry_after_ms=None, wrong_dimensions=False, nan=False, empty_data=False,
                   require_api_key=None, models=None, force_status=None, reject=(), seed=0)
    fault_server.configure(**healthy)
    fault_server.reset_stats()
    yield fault_server
    fault_server.configure(**healthy)


# -- a local archive server for the download faults (127.0.0.1 only) -------------------------------------------
class ArchiveServer:
    """Serves ``files`` (name -> bytes) over HTTP on a free loopback port; special routes misbehave:
    ``/truncated/<name>`` announces the full length and sends half, ``/not-http`` answers in another protocol."""

    def __init__(self, files: dict[str, bytes]) -> None:
        import http.server
        import threading

        self.files, self.requests = files, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests += 1
                name = self.path.strip("/")
                if name == "not-http":
                    self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")
                    self.close_connection = True
                    return
                truncated = name.startswith("truncated/")
                body = outer.files.get(name.removeprefix("truncated/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if truncated else body)
                self.close_connection = truncated

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


MOVIES_MEMBER = "ml-latest-small/movies.csv"


@pytest.fixture(scope="session")
def archives() -> Iterator[ArchiveServer]:
    """Zips made from the real movies.csv: good, altered (wrong checksum), wrong member, bomb; and junk."""
    from movrec_pipeline_tests.conftest import data_dir

    real = (data_dir() / MOVIES_MEMBER).read_bytes()
    srv = ArchiveServer({
        "good.zip": zip_bytes({MOVIES_MEMBER: real}),
        "altered.zip": zip_bytes({MOVIES_MEMBER: real.replace(b"Toy Story", b"Toy Storm", 1)}),
        "other-member.zip": zip_bytes({"ml-latest-small/README.txt": b"no movies here"}),
        "traversal.zip": zip_bytes({"../../../../tmp/movrec-evil/movies.csv": real}),
        "bomb.zip": zip_bytes({MOVIES_MEMBER: b"\0" * (8 << 20)}),
        "portal.html": b"<html><body>Please log in to the hotel Wi-Fi</body></html>",
    })
    yield srv
    srv.close()


def movies_spec(url: str):
    from movrec_pipeline.ingest import files

    return files.DataFile(MOVIES_MEMBER, files.MOVIELENS["movies"].sha256, url, MOVIES_MEMBER)
