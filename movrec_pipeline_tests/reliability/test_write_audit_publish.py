"""A bad file never replaces good data: every source is staged, audited, and published only when it passes.

The warehouse holds the real sources first. Each case loads a damaged copy from a private data directory:
the run fails with one line, the published tables are byte-for-byte what they were (row count and md5 of
every source table), and the next good run publishes normally.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from movrec_pipeline.core.settings import SourceSettings
from movrec_pipeline.defs.resources import PostgresResource, SourcesResource, from_env
from movrec_pipeline_tests.conftest import data_dir, materialize, step_errors
from movrec_pipeline_tests.reliability.conftest import DIGESTS, FIGURES, one

SOURCE_TABLES = [t for t in DIGESTS if t.split(".")[0] in ("dvdrental", "netflix", "movielens")] + ["movrec.quarantine"]
ML = "ml-latest-small"


def digests(url: str) -> dict[str, tuple[int, str]]:
    return {t: tuple(one_row(url, DIGESTS[t])) for t in SOURCE_TABLES}


def one_row(url: str, query: str) -> tuple:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()


@pytest.fixture
def bad_dir(tmp_path: Path) -> Path:
    """A copy of the real data directory that a case may damage (dvdrental is linked, not copied)."""
    out = tmp_path / "data"
    (out / ML).mkdir(parents=True)
    for name in ("movies", "ratings", "links", "tags"):
        shutil.copy(data_dir() / ML / f"{name}.csv", out / ML / f"{name}.csv")
    shutil.copy(data_dir() / "netflix_titles.csv", out / "netflix_titles.csv")
    (out / "dvdrental.tar").symlink_to(data_dir() / "dvdrental.tar")
    return out


@pytest.fixture
def published(loaded_sources, warehouse_url: str) -> Iterator[dict[str, tuple[int, str]]]:
    """The good tables before a case; after it, a normal run from the real files must publish again."""
    before = digests(warehouse_url)
    yield before
    again = materialize(dg.AssetSelection.groups("sources"))
    assert again.success, step_errors(again)
    assert digests(warehouse_url) == before  # the good files publish exactly the good tables again


def load(asset: str, directory: Path, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    selection = dg.AssetSelection.assets(asset).required_multi_asset_neighbors()
    from movrec_pipeline.definitions import loaded

    return dg.materialize(list(loaded().assets) + list(loaded().asset_checks), selection=selection,
                          resources={**loaded().resources, "sources": from_env(  # the environment as a run sees it
                              SourcesResource, SourceSettings, data_dir=str(directory), allow_download=False)},
                          instance=dg.DagsterInstance.ephemeral(), run_config=run_config, raise_on_error=False)


def refusal(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success, "the bad file was published"
    errors = step_errors(result)
    assert len(errors) == 1 and len(errors[0].strip().splitlines()) == 1, errors
    return errors[0]


def cut(path: Path, fraction: float, *, at_line: bool) -> None:
    data = path.read_bytes()
    end = int(len(data) * fraction)
    # at a line end, or inside a quoted field (a few characters after an opening quote)
    end = data.rindex(b"\n", 0, end) + 1 if at_line else data.rindex(b',"', 0, end) + 12
    path.write_bytes(data[:end])


CASES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "netflix cut mid quoted field (interrupted download)": (
        "netflix_titles", lambda d: cut(d / "netflix_titles.csv", 0.5, at_line=False),
        "ends in the middle of a record"),
    "netflix cut at a line end, half the shows": (
        "netflix_titles", lambda d: cut(d / "netflix_titles.csv", 0.5, at_line=True),
        "netflix.shows would shrink from 8,809 to"),
    "ratings cut at a line end, half the ratings": (
        "movielens_ratings", lambda d: cut(d / ML / "ratings.csv", 0.5, at_line=True),
        "movielens.ratings would shrink from 100,836 to"),
    "ratings cut mid line": (
        "movielens_ratings", lambda d: cut(d / ML / "ratings.csv", 0.7, at_line=True) or
        (d / ML / "ratings.csv").write_bytes((d / ML / "ratings.csv").read_bytes() + b"610,168"),
        "ratings.csv: the file ends in the middle of a record"),
    "movies cut to a tenth (GX row-count floor, whatever the shrink setting)": (
        "movielens_movies", lambda d: cut(d / ML / "movies.csv", 0.1, at_line=True),
        "movielens_movies_valid: expect_table_row_count_to_be_between failed (observed"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_leaves_published_tables_untouched(case: str, published, bad_dir: Path,
                                                     warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asset, damage, expected = CASES[case]
    if "whatever the shrink setting" in case:
        monkeypatch.setenv("MOVREC_ALLOW_SHRINK", "1")
    damage(bad_dir)
    message = refusal(load(asset, bad_dir))
    assert expected in message, message
    assert digests(warehouse_url) == published, "a published table changed"
    assert not one(warehouse_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'movrec_stage'")  # no leftovers
    FIGURES.cases[f"wap: {case}"] = True


def test_shrink_is_published_when_the_user_says_so(published, bad_dir: Path, warehouse_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    original = (bad_dir / "netflix_titles.csv").read_bytes()
    cut(bad_dir / "netflix_titles.csv", 0.93, at_line=True)  # -7 %: above the GX floor of 8,000, over 5 %
    assert "would shrink from 8,809" in refusal(load("netflix_titles", bad_dir))
    config = {"ops": {"netflix_titles": {"config": {"allow_shrink": True}}}}
    result = load("netflix_titles", bad_dir, run_config=config)
    assert result.success, step_errors(result)
    shrunk = one(warehouse_url, "SELECT count(*) FROM netflix.shows")
    assert 8000 < shrunk < 8809 * 0.95, shrunk
    (bad_dir / "netflix_titles.csv").write_bytes(original)
    assert load("netflix_titles", bad_dir).success  # growing back needs no permission
    monkeypatch.setenv("MOVREC_ALLOW_SHRINK", "1")  # the environment variable does what the run config does
    cut(bad_dir / "netflix_titles.csv", 0.93, at_line=True)
    assert load("netflix_titles", bad_dir).success
    FIGURES.cases["wap: shrink published when allowed (run config, MOVREC_ALLOW_SHRINK)"] = True


def test_oversized_csv_field_quarantines_its_row(published, bad_dir: Path, warehouse_url: str) -> None:
    path = bad_dir / ML / "tags.csv"
    path.write_bytes(path.read_bytes() + b'2,60756,"' + b"x" * 200_000 + b'",1445714994\n')
    result = load("movielens_tags", bad_dir)
    assert result.success, step_errors(result)
    reason = one(warehouse_url, "SELECT reason FROM movrec.quarantine WHERE source = 'movielens_tags'")
    assert reason == "a field of 200,000 characters (over the 131,072 limit)", reason
    assert one(warehouse_url, "SELECT count(*) FROM movielens.tags") == published["movielens.tags"][0]
    FIGURES.cases["wap: oversized CSV field quarantined"] = True


def make_archive(url: str, fmt: str, out: Path, edit: str | None = None) -> Path:
    """The real dvdrental sample restored into a scratch database, optionally edited, dumped as format ``fmt``."""
    import psycopg
    from psycopg import sql

    from movrec_pipeline.warehouse import connection, embedded

    pg_bin, name = embedded.bin_dir(), "movrec_test_archive"
    admin = connection.admin_url_for(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    scratch = url.replace("/movrec?", f"/{name}?")
    try:
        subprocess.run([str(pg_bin / "pg_restore"), "--no-owner", "-d", scratch, str(data_dir() / "dvdrental.tar")],
                       check=True, capture_output=True)
        if edit:
            with psycopg.connect(scratch, autocommit=True) as conn:
                conn.execute(edit)
        subprocess.run([str(pg_bin / "pg_dump"), f"-F{fmt}", "--no-owner", "-f", str(out), "-d", scratch],
                       check=True, capture_output=True)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return out


def test_dvdrental_formats_and_a_failed_audit(published, tmp_path: Path, warehouse_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "dv"
    data.mkdir()
    # a custom-format dump named .dump whose rental table lost 60 % of its rows: the audit refuses it
    edit = "ALTER TABLE payment DROP CONSTRAINT payment_rental_id_fkey; DELETE FROM rental WHERE rental_id % 5 < 3"
    make_archive(warehouse_url, "c", data / "dvdrental.dump", edit=edit)
    message = refusal(load("dvdrental", data))
    assert "dvdrental not published" in message and "dvdrental.rental would shrink from 16,044" in message, message
    assert digests(warehouse_url) == published
    assert not one(warehouse_url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'dvdrental_next'")
    # a directory-format dump is found and restored
    (data / "dvdrental.dump").unlink()
    make_archive(warehouse_url, "d", data / "dvdrental")
    result = load("dvdrental", data)
    assert result.success, step_errors(result)
    # MOVREC_DVDRENTAL_ARCHIVE names any file (here the real tar under another name)
    shutil.rmtree(data / "dvdrental")
    shutil.copy(data_dir() / "dvdrental.tar", tmp_path / "sample.backup")
    monkeypatch.setenv("MOVREC_DVDRENTAL_ARCHIVE", str(tmp_path / "sample.backup"))
    result = load("dvdrental", data)
    assert result.success, step_errors(result)
    assert digests(warehouse_url)["dvdrental.rental"] == published["dvdrental.rental"]
    FIGURES.cases["wap: dvdrental .dump refused by the audit, directory dump and named archive restored"] = True


def test_published_tables_keep_their_indexes_and_names(loaded_sources, warehouse_url: str) -> None:
    """After swaps, the published tables have exactly the indexes schema.sql (and search) give them."""
    rows = one_row(warehouse_url, "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
                                  "WHERE schemaname = 'movielens'")[0]
    assert rows.split(",") == ["links_pkey", "movies_pkey", "ratings_movie_idx",
                               "ratings_pkey", "ratings_rated_at_idx"], rows
    assert one(warehouse_url, "SELECT count(*) FROM pg_constraint WHERE conname = 'ratings_pkey' AND contype = 'p'")
    PostgresResource().url()  # schema.sql applies again on the swapped tables without error
