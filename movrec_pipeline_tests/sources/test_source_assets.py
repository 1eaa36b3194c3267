"""Source assets on the embedded PostgreSQL with the real files: counts, idempotence, bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from movrec_pipeline.core.errors import SourceDataError
from movrec_pipeline.defs.resources import SourcesResource
from movrec_pipeline.ingest import dvdrental_restore as dvdrental
from movrec_pipeline.warehouse import connection, embedded
from movrec_pipeline_tests.conftest import check_results, data_dir, materialize, step_errors

EXPECTED = {"film": 1000, "customer": 599, "rental": 16044, "inventory": 4581}


def _restore(archive: Path, url: str) -> dict[str, int]:
    return dvdrental.restore(archive, url, str(embedded.bin_dir() / "pg_restore"),
                             str(embedded.bin_dir() / "pg_dump"))


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()[0]


def test_dvdrental_restores_tar_and_zip_idempotently(warehouse_url: str, tmp_path: Path) -> None:
    assert _restore(data_dir() / "dvdrental.tar", warehouse_url) == EXPECTED
    archive = tmp_path / "dvdrental.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(data_dir() / "dvdrental.tar", "dvdrental.tar")
    assert _restore(archive, warehouse_url) == EXPECTED  # second restore: still one copy
    assert _count(warehouse_url, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'dvdrental%'") == 1
    assert _count(warehouse_url, "SELECT count(*) FROM pg_database WHERE datname LIKE 'movrec_restore_%'") == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda real: real[: len(real) // 3], "damaged tar archive"),  # truncated tar
        (lambda real: b"hello, this is not a dump\n" * 40, "is not a pg_dump archive"),
        (lambda real: b"PK\x03\x04 broken zip", "damaged zip"),
    ],
    ids=["truncated", "not-an-archive", "broken-zip"],
)
def test_bad_dvdrental_archive_fails_clearly_and_keeps_old_data(warehouse_url: str, tmp_path: Path,
                                                                 content, message: str) -> None:
    _restore(data_dir() / "dvdrental.tar", warehouse_url)
    bad = tmp_path / "dvdrental.tar"
    bad.write_bytes(content((data_dir() / "dvdrental.tar").read_bytes()))
    with pytest.raises(SourceDataError, match=message) as info:
        _restore(bad, warehouse_url)
    assert "\n" not in str(info.value)
    assert _count(warehouse_url, "SELECT count(*) FROM dvdrental.rental") == EXPECTED["rental"]


def test_sources_load_exact_counts_and_checks_pass(loaded_sources: dg.ExecuteInProcessResult,
                                                   warehouse_url: str) -> None:
    counts = {
        m.asset_key.to_user_string(): m.metadata["dagster/row_count"].value
        for m in loaded_sources.get_asset_materialization_events() and
        [e.event_specific_data.materialization for e in loaded_sources.get_asset_materialization_events()]
    }
    assert counts == {"dvdrental": 1000, "netflix_titles": 8809, "movielens_movies": 9742,
                      "movielens_ratings": 100836, "movielens_links": 9742, "movielens_tags": 3683}
    checks = check_results(loaded_sources)
    assert len(checks) == 7 and all(checks.values()), checks
    assert _count(warehouse_url, "SELECT count(*) FROM movrec.quarantine") == 0
    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute("SELECT duration_minutes, rating FROM netflix.shows WHERE show_id = 's5542'").fetchone()
        assert row[0] is not None and row[1] is None
        assert conn.execute("SELECT count(*) FROM netflix.shows WHERE date_added IS NULL").fetchone()[0] == 10
        toy = conn.execute("SELECT clean_title, year, genres FROM movielens.movies WHERE movie_id = 1").fetchone()
        assert toy[0] == "Toy Story" and toy[1] == 1995 and "Animation" in toy[2]


def test_materializing_twice_gives_the_same_tables(loaded_sources: dg.ExecuteInProcessResult,
                                                   warehouse_url: str) -> None:
    query = ("SELECT (SELECT count(*) FROM netflix.shows), (SELECT count(*) FROM movielens.ratings), "
             "(SELECT sum(rating) FROM movielens.ratings), (SELECT count(*) FROM dvdrental.film)")
    before = _count_row(warehouse_url, query)
    again = materialize(dg.AssetSelection.assets("netflix_titles", "movielens_movies", "dvdrental")
                        .required_multi_asset_neighbors())
    assert again.success, step_errors(again)
    assert _count_row(warehouse_url, query) == before


def _count_row(url: str, query: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()


@pytest.mark.parametrize(
    ("filename", "mutate", "message"),
    [
        ("netflix_titles.csv", lambda b: b.replace(b",description", b",summary", 1), "missing column"),
        ("netflix_titles.csv", lambda b: b"", "empty"),
        ("netflix_titles.csv", None, "netflix_titles.csv not found"),
        ("ml-latest-small/ratings.csv", lambda b: b.replace(b"rating,", b"score,", 1), "missing column"),
    ],
    ids=["netflix-missing-column", "netflix-empty", "netflix-missing-file", "ratings-missing-column"],
)
def test_bad_source_files_fail_with_one_line_and_keep_old_data(loaded_sources, warehouse_url: str,
                                                               tmp_path: Path, filename: str, mutate,
                                                               message: str) -> None:
    bad_dir = tmp_path / "data"
    shutil.copytree(data_dir(), bad_dir, ignore=shutil.ignore_patterns("dvdrental.tar"))
    target = bad_dir / filename
    if mutate is None:
        target.unlink()
    else:
        target.write_bytes(mutate(target.read_bytes()))
    asset = "netflix_titles" if filename.startswith("netflix") else "movielens_ratings"
    result = materialize(dg.AssetSelection.assets(asset).required_multi_asset_neighbors(),
                         {"sources": SourcesResource(data_dir=str(bad_dir), allow_download=False)})
    assert not result.success
    errors = step_errors(result)
    assert any(message in e for e in errors), errors
    assert all(len(e.strip().splitlines()) == 1 for e in errors), errors
    assert _count(warehouse_url, "SELECT count(*) FROM netflix.shows") == 8809
    assert _count(warehouse_url, "SELECT count(*) FROM movielens.ratings") == 100836


def test_pgvector_version_gate() -> None:
    assert connection.parse_version("0.8.5") >= connection.MIN_PGVECTOR
    assert connection.parse_version("0.8.3") < connection.MIN_PGVECTOR
    assert connection.parse_version("0.10.0") >= connection.MIN_PGVECTOR


def test_pgvector_present_on_embedded_server(warehouse_url: str) -> None:
    assert connection.parse_version(connection.prepare_warehouse(warehouse_url)) >= (0, 8, 4)


def test_definitions_load_without_gx_or_torch() -> None:
    code = ("import sys, movrec_pipeline.definitions as d; d.loaded().resolve_asset_graph(); "
            "bad=[m for m in ('great_expectations','torch','sentence_transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow  # `dg check defs` in a subprocess
def test_dagster_definitions_validate(tmp_path: Path) -> None:
    # outside the project dir: there dagster would pick up dagster.yaml, which needs the launcher's env
    proc = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-m",
                           "movrec_pipeline.definitions"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
