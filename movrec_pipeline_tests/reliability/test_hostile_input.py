"""Hostile and bad input, one row per case: sources, downloads, providers, configuration, CLI.

Every case runs the real code path (an asset through ``materialize``, ``files.download`` against a
local server, the CLI's ``main``) and returns what a person would read: the step's error, the quarantine
reason stored for the bad row, or the command's message. The test checks that text against the row's
expected message and that the earlier good data is intact (every table of the clean run unchanged,
except the quarantine rows a case is expected to add). The module ends by reloading the real files.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pytest

from movrec_pipeline.cli import main as cli
from movrec_pipeline.core.errors import DatabaseSetupError, MovrecError, SourceDataError
from movrec_pipeline.defs.resources import IndexResource, PostgresResource, SourcesResource
from movrec_pipeline.ingest import dvdrental_restore as dvdrental
from movrec_pipeline.ingest import files
from movrec_pipeline.warehouse import index_build as build
from movrec_pipeline.warehouse import tables
from movrec_pipeline_tests.conftest import data_dir, materialize, step_errors
from movrec_pipeline_tests.reliability.conftest import (
    FIGURES,
    MODEL,
    Baseline,
    embedding_resource,
    model_id,
    movies_spec,
    one,
)

NETFLIX, RATINGS = "netflix_titles.csv", "ml-latest-small/ratings.csv"
BUCKET0 = ("b00", "b00")  # ~30 films: enough to reach the provider, cheap when it misbehaves
NETFLIX_ROW = ('{id},Movie,{title},Ann Example,"A. Actor, B. Actor",Norway,"September 25, 2021",2020,PG-13,'
               '93 min,"Dramas, International Movies",A row added by the reliability suite.')


@dataclass
class Ctx:
    baseline: Baseline
    faults: object
    archives: object
    tmp: Path
    capsys: pytest.CaptureFixture
    monkeypatch: pytest.MonkeyPatch

    @property
    def url(self) -> str:
        return self.baseline.url


@dataclass(frozen=True)
class Case:
    name: str
    area: str  # sources | downloads | providers | config | CLI
    given: str  # the hostile input, for the table in docs/reliability.md
    expected: str  # text the person reading the error (or the quarantine row) must see
    run: Callable[[Ctx], str]


# -- sources: a copy of the real files with one mutation, loaded through the asset --------------------------
def source_dir(ctx: Ctx, filename: str, mutate: Callable[[bytes], bytes]) -> Path:
    folder = ctx.tmp / "data"
    if filename == NETFLIX:
        folder.mkdir()
    else:
        shutil.copytree(data_dir() / "ml-latest-small", folder / "ml-latest-small")
    target = folder / filename
    target.write_bytes(mutate((data_dir() / filename).read_bytes()))
    return folder


def load(ctx: Ctx, filename: str, mutate: Callable[[bytes], bytes]) -> dg.ExecuteInProcessResult:
    asset = "netflix_titles" if filename == NETFLIX else "movielens_ratings"
    resources = {"sources": SourcesResource(data_dir=str(source_dir(ctx, filename, mutate)), allow_download=False)}
    return materialize(dg.AssetSelection.assets(asset).required_multi_asset_neighbors(), resources)


def failure(result: dg.ExecuteInProcessResult) -> str:
    assert not result.success, "the hostile input was accepted"
    errors = step_errors(result)
    assert len(errors) == 1 and len(errors[0].strip().splitlines()) == 1, errors  # one step, one line
    assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)  # not retried
    return errors[0]


def quarantined(ctx: Ctx, result: dg.ExecuteInProcessResult, source: str, key: str) -> str:
    assert result.success, step_errors(result)
    return one(ctx.url, "SELECT reason FROM movrec.quarantine WHERE source = %s AND item_key = %s", (source, key))


def append_line(line: bytes) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        newline = b"\r\n" if b"\r\n" in data[:5000] else b"\n"
        return data.rstrip(b"\r\n") + newline + line + newline
    return mutate


def netflix_row(show_id: str, title: str = "Hostile Row") -> bytes:
    return NETFLIX_ROW.format(id=show_id, title=title).encode()


def case_repeated_header(ctx: Ctx) -> str:
    def mutate(data: bytes) -> bytes:
        lines = data.split(b"\r\n")
        header = lines[0].removeprefix(b"\xef\xbb\xbf")
        return b"\r\n".join([*lines[:3000], header, *lines[3000:6000], header, *lines[6000:]])
    result = load(ctx, NETFLIX, mutate)
    assert result.success, step_errors(result)
    mat = result.get_asset_materialization_events()[0].event_specific_data.materialization
    return f"header_rows_dropped={mat.metadata['header_rows_dropped'].value}"


def case_shifted_columns(ctx: Ctx) -> str:
    return quarantined(ctx, load(ctx, NETFLIX, append_line(netflix_row("s99990") + b",an extra field")),
                       "netflix_titles", "s99990")


def case_non_utf8(ctx: Ctx) -> str:
    return quarantined(ctx, load(ctx, NETFLIX, append_line(netflix_row("s99991", "Caf\xe9").replace(
        b"Caf\xc3\xa9", b"Caf\xe9\xff"))), "netflix_titles", "s99991")


def case_duplicate_key(ctx: Ctx) -> str:
    reason = quarantined(ctx, load(ctx, NETFLIX, append_line(netflix_row("s1", "Not Dick Johnson"))),
                         "netflix_titles", "s1")
    assert one(ctx.url, "SELECT title FROM netflix.shows WHERE show_id = 's1'") == "Dick Johnson Is Dead"
    return reason


def case_empty_file(ctx: Ctx) -> str:
    return failure(load(ctx, NETFLIX, lambda _b: b""))


def case_xlsx_instead_of_csv(ctx: Ctx) -> str:
    return failure(load(ctx, NETFLIX, lambda _b: b"PK\x03\x04" + b"\0" * 200))


def case_one_megabyte_field(ctx: Ctx) -> str:
    result = load(ctx, NETFLIX, append_line(netflix_row("s99992").rsplit(b",", 1)[0] + b',"'
                                            + b"very long text " * 70_000 + b'"'))
    return quarantined(ctx, result, "netflix_titles", "s99992")


def case_bom_crlf_ratings(ctx: Ctx) -> str:
    result = load(ctx, RATINGS, lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"))
    assert result.success, step_errors(result)
    loaded = one(ctx.url, "SELECT count(*) FROM movielens.ratings")
    return f"ratings loaded: {loaded}"


def case_unknown_movie(ctx: Ctx) -> str:
    result = load(ctx, RATINGS, append_line(b"1,999999,4.0,964982703"))
    return quarantined(ctx, result, "movielens_ratings", "1,999999")


def case_not_a_dump(ctx: Ctx) -> str:
    folder = ctx.tmp / "data"
    folder.mkdir()
    (folder / "dvdrental.tar").write_bytes(b"this is not a database dump\n" * 100)
    return failure(materialize(dg.AssetSelection.assets("dvdrental"),
                               {"sources": SourcesResource(data_dir=str(folder), allow_download=False)}))


def case_zip_without_dump(ctx: Ctx) -> str:
    folder = ctx.tmp / "data"
    folder.mkdir()
    with zipfile.ZipFile(folder / "dvdrental.zip", "w") as zf:
        zf.writestr("README.md", "the dump is missing")
    return failure(materialize(dg.AssetSelection.assets("dvdrental"),
                               {"sources": SourcesResource(data_dir=str(folder), allow_download=False)}))


def case_netflix_gzip_only(ctx: Ctx) -> str:
    folder = ctx.tmp / "data"
    folder.mkdir()
    (folder / f"{NETFLIX}.gz").write_bytes(gzip.compress((data_dir() / NETFLIX).read_bytes()))
    result = materialize(dg.AssetSelection.assets("netflix_titles"),
                         {"sources": SourcesResource(data_dir=str(folder), allow_download=False)})
    assert result.success, step_errors(result)
    mat = result.get_asset_materialization_events()[0].event_specific_data.materialization
    return f"shows loaded from the .gz: {mat.metadata['dagster/row_count'].value}"


def case_netflix_extra_column(ctx: Ctx) -> str:
    def mutate(data: bytes) -> bytes:  # a column appended by a spreadsheet or a script, the trailing headers too
        lines = data.split(b"\r\n")
        out = [lines[0] + b",imdb_score"]
        out += [line + b",7.1" if line else line for line in lines[1:]]
        return b"\r\n".join(out)
    result = load(ctx, NETFLIX, mutate)
    assert result.success, step_errors(result)
    mat = result.get_asset_materialization_events()[0].event_specific_data.materialization
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert (meta["dagster/row_count"], meta["quarantined"], meta["header_rows_dropped"]) == (8809, 0, 2), meta
    return f"unknown_columns_ignored={meta['unknown_columns_ignored']}"


def repacked_tar(folder: Path, inner: str) -> Path:
    """dvdrental.tar re-packed by hand: the real dump's members under ``inner``/."""
    with tarfile.open(data_dir() / "dvdrental.tar") as src, tarfile.open(folder / "dvdrental.tar", "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member)
            member.name = f"{inner}/{member.name}"
            dst.addfile(member, data)
    return folder


def case_dvdrental_repacked_tar(ctx: Ctx) -> str:
    folder = ctx.tmp / "data"
    folder.mkdir()
    result = materialize(dg.AssetSelection.assets("dvdrental"),
                         {"sources": SourcesResource(data_dir=str(repacked_tar(folder, "dvdrental")),
                                                     allow_download=False)})
    assert result.success, step_errors(result)
    customers = one(ctx.url, "SELECT count(*) FROM dvdrental.customer")
    return f"customers restored: {customers}"


def case_dvdrental_tar_of_other_files(ctx: Ctx) -> str:
    folder = ctx.tmp / "data"
    folder.mkdir()
    with tarfile.open(folder / "dvdrental.tar", "w") as tar:
        readme = folder / "README.md"
        readme.write_text("the dump is missing")
        tar.add(readme, arcname="README.md")
    return failure(materialize(dg.AssetSelection.assets("dvdrental"),
                               {"sources": SourcesResource(data_dir=str(folder), allow_download=False)}))


# -- downloads (files.download against the local archive server) -----------------------------------------
def download_error(ctx: Ctx, name: str) -> str:
    cache = ctx.tmp / "cache"
    with pytest.raises(SourceDataError) as info:
        files.download(movies_spec(ctx.archives.url(name)), cache)
    assert not [p for p in cache.rglob("*") if p.is_file()]  # nothing kept, under any name
    return str(info.value)


def case_download_portal_page(ctx: Ctx) -> str:
    return download_error(ctx, "portal.html")


def case_download_truncated(ctx: Ctx) -> str:
    return download_error(ctx, "truncated/good.zip")


def case_download_not_http(ctx: Ctx) -> str:
    return download_error(ctx, "not-http")


def case_download_zip_bomb(ctx: Ctx) -> str:
    ctx.monkeypatch.setattr(files, "MAX_MEMBER_BYTES", 4 << 20)  # the bomb inflates to 8 MiB
    return download_error(ctx, "bomb.zip")


def case_download_other_member(ctx: Ctx) -> str:
    return download_error(ctx, "other-member.zip")


def case_download_path_traversal(ctx: Ctx) -> str:
    cache = ctx.tmp / "cache"
    got = files.download(movies_spec(ctx.archives.url("traversal.zip")), cache)
    assert not Path("/tmp/movrec-evil").exists()
    return f"extracted to {got.relative_to(cache)} (sha256 verified)"


# -- providers (film embeddings of one bucket under a model of this suite) --------------------------------
def embed(ctx: Ctx, version: str, **kw) -> dg.ExecuteInProcessResult:
    return materialize(dg.AssetSelection.assets("film_embeddings").without_checks(),
                       {"embedding": embedding_resource(ctx.faults.base_url, version, max_retries=1, **kw)},
                       partition_range=BUCKET0)


def provider_failure(ctx: Ctx, version: str, settings: dict, **kw) -> str:
    ctx.faults.configure(**settings)
    message = failure(embed(ctx, version, **kw))
    mid = model_id(ctx.url, version, kw.get("model", MODEL))
    assert not mid or one(ctx.url, "SELECT count(*) FROM movrec.item_embeddings WHERE model_id = %s", (mid,)) == 0
    return message


def case_wrong_dimensions(ctx: Ctx) -> str:
    return provider_failure(ctx, "rel-hostile-dims", {"wrong_dimensions": True})


def case_nan(ctx: Ctx) -> str:
    return provider_failure(ctx, "rel-hostile-nan", {"nan": True})


def case_empty_list(ctx: Ctx) -> str:
    return provider_failure(ctx, "rel-hostile-empty", {"empty_data": True})


def case_bad_key(ctx: Ctx) -> str:
    message = provider_failure(ctx, "rel-hostile-401", {"require_api_key": "sk-the-only-right-key"})
    assert os.environ["OPENAI_API_KEY"] not in message
    return message


def case_unknown_model(ctx: Ctx) -> str:
    return provider_failure(ctx, "rel-hostile-404", {"models": [MODEL]}, model="rel-no-such-model")


def case_vector_dimension_mismatch(ctx: Ctx) -> str:
    version = "rel-hostile-vecdim"
    resources = {"embedding": embedding_resource(ctx.faults.base_url, version)}
    first = materialize(dg.AssetSelection.assets("film_embeddings"), resources, partition_range=("b00", "b31"))
    assert first.success, step_errors(first)
    mid = model_id(ctx.url, version)
    with psycopg.connect(ctx.url, autocommit=True) as conn:  # a 32-d vector in a 64-d model's column
        conn.execute("UPDATE movrec.item_embeddings SET embedding = array_fill(0.5, ARRAY[32])::vector "
                     "WHERE model_id = %s AND item_key = '7'", (mid,))
    check = materialize(dg.AssetSelection.checks_for_assets("film_embeddings"), resources,
                        partition_range=("b00", "b31"))
    evaluation = next(e.event_specific_data for e in check.all_events
                      if e.event_type_value == "ASSET_CHECK_EVALUATION"
                      and e.event_specific_data.check_name == "film_vectors_complete")
    assert not evaluation.passed  # blocking: nothing downstream (indexes, profiles) runs on top of it
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    return f"{evaluation.check_name} failed: wrong_dimensions={meta['wrong_dimensions']}"


# -- configuration values that reach SQL: bound as parameters or quoted as identifiers, never executed --------
INJECTION = "x'); DROP TABLE dvdrental.customer; --"


def case_template_version_injection(ctx: Ctx) -> str:
    version = "rel-" + INJECTION
    result = embed(ctx, version)
    assert result.success, step_errors(result)
    stored = one(ctx.url, "SELECT template_version FROM movrec.embedding_models WHERE template_version = %s",
                 (version,))
    return f"registered template_version = {stored}"


def case_model_name_injection(ctx: Ctx) -> str:
    name = "rel-films; DROP TABLE customer"
    result = embed(ctx, "rel-hostile-model", model=name)
    assert result.success, step_errors(result)
    stored = one(ctx.url, "SELECT model FROM movrec.embedding_models WHERE model = %s", (name,))
    return f"registered model = {stored}"


def case_index_method_injection(ctx: Ctx) -> str:
    settings = IndexResource(method="hnsw; DROP TABLE dvdrental.customer; --")
    spec = build.IndexSpec(method=settings.method)
    with psycopg.connect(ctx.url, autocommit=True) as conn, pytest.raises(MovrecError) as info:
        build.build_index(conn, "film", ctx.baseline.model_id, 64, spec)
    return str(info.value)


def case_identifier_quoting(ctx: Ctx) -> str:
    with psycopg.connect(ctx.url) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable) as table_error:
            tables.copy_frame(conn, "movrec", "films; DROP TABLE customer", pd.DataFrame({"a": ["x"]}))
        conn.rollback()
        with pytest.raises(psycopg.errors.UndefinedTable) as schema_error:
            dvdrental.counts(conn, "dvdrental; DROP TABLE dvdrental.customer; --")
    return f"{table_error.value}".splitlines()[0] + " / " + f"{schema_error.value}".splitlines()[0]


def case_url_env_var_with_password(ctx: Ctx) -> str:
    ctx.monkeypatch.setenv("MOVREC_REL_WAREHOUSE", "postgresql://movrec:pw-canary-789@127.0.0.1:1/movrec")
    result = materialize(dg.AssetSelection.assets("film_embeddings").without_checks(),
                         {"postgres": PostgresResource(database_url=dg.EnvVar("MOVREC_REL_WAREHOUSE")),
                          "embedding": embedding_resource(ctx.faults.base_url, "rel-hostile-url")},
                         partition_range=BUCKET0)
    message = failure(result)
    assert "pw-canary-789" not in message
    return message


def case_password_in_query_string(ctx: Ctx) -> str:
    from movrec_pipeline.warehouse import connection

    with pytest.raises(DatabaseSetupError) as info:
        connection.prepare_warehouse("postgresql:///movrec?host=127.0.0.1&port=1&password=pw-canary-q")
    assert "pw-canary-q" not in str(info.value)
    return str(info.value)


# -- CLI (``movrec`` main in-process: same parser, same error handling, same output) ------------------------
def movrec(ctx: Ctx, *args: str) -> str:
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = ctx.capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (code, out, err)
    return err.strip()


def case_unknown_customer(ctx: Ctx) -> str:
    return movrec(ctx, "recommend", "--customer", "999999")


def case_customer_id_injection(ctx: Ctx) -> str:
    return movrec(ctx, "recommend", "--customer", "1; DROP TABLE dvdrental.customer")


def case_sql_in_search_text(ctx: Ctx) -> str:
    code = cli.main(["search", "x'); DROP TABLE movielens.movies; --", "--json"])
    out, err = ctx.capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in err + out
    movies = one(ctx.url, "SELECT count(*) FROM movielens.movies")
    return f"exit {code}, movies still {movies}"


CASES = [
    Case("netflix-repeated-header-rows", "sources", "two more header lines inside netflix_titles.csv (it has 2)",
         "header_rows_dropped=4", case_repeated_header),
    Case("netflix-shifted-columns", "sources", "a row with one field too many", "expected 12 fields, got 13",
         case_shifted_columns),
    Case("netflix-non-utf8-bytes", "sources", "a row with Latin-1 and 0xFF bytes", "non-UTF-8 bytes", case_non_utf8),
    Case("netflix-duplicate-key", "sources", "a second row with show_id s1",
         "duplicate show_id 's1' (first at line 2)", case_duplicate_key),
    Case("netflix-empty-file", "sources", "netflix_titles.csv of 0 bytes", "netflix_titles.csv: file is empty",
         case_empty_file),
    Case("netflix-xlsx-not-csv", "sources", "a ZIP/xlsx saved as netflix_titles.csv", "is a ZIP archive (or .xlsx)",
         case_xlsx_instead_of_csv),
    Case("netflix-1mb-field", "sources", "a description of 1 MB",
         "a field of 1,050,000 characters (over the 131,072 limit)", case_one_megabyte_field),
    Case("ratings-bom-crlf", "sources", "ratings.csv with a UTF-8 BOM and CRLF line ends", "ratings loaded: 100836",
         case_bom_crlf_ratings),
    Case("ratings-unknown-movie", "sources", "a rating for movieId 999999",
         "unknown movieId 999999 (not in movies.csv)", case_unknown_movie),
    Case("dvdrental-not-a-dump", "sources", "text saved as dvdrental.tar", "is not a pg_dump archive",
         case_not_a_dump),
    Case("dvdrental-zip-without-dump", "sources", "dvdrental.zip holding only a README",
         "holds no .tar dump: expected dvdrental.tar inside", case_zip_without_dump),
    Case("netflix-gzip-copy", "sources", "only netflix_titles.csv.gz in the data folder",
         "shows loaded from the .gz: 8809", case_netflix_gzip_only),
    Case("netflix-extra-column", "sources", "a column imdb_score appended to every line (trailing headers too)",
         "unknown_columns_ignored=imdb_score", case_netflix_extra_column),
    Case("dvdrental-repacked-tar", "sources", "dvdrental.tar re-packed with its files under dvdrental/",
         "customers restored: 599", case_dvdrental_repacked_tar),
    Case("dvdrental-tar-without-dump", "sources", "dvdrental.tar holding only a README",
         "is a tar archive but not a pg_dump tar dump: no toc.dat inside (it holds README.md)",
         case_dvdrental_tar_of_other_files),
    Case("download-captive-portal", "downloads", "an HTML login page instead of the zip",
         "is not a valid zip archive: download it again", case_download_portal_page),
    Case("download-truncated", "downloads", "the connection drops halfway through the zip",
         "(ChunkedEncodingError: ('Connection broken: IncompleteRead", case_download_truncated),
    Case("download-not-http", "downloads", "the server answers in another protocol",
         "BadStatusLine('SSH-2.0-OpenSSH_9.6", case_download_not_http),
    Case("download-zip-bomb", "downloads", "a member inflating past the size cap", "is larger than 4,194,304 bytes",
         case_download_zip_bomb),
    Case("download-wrong-member", "downloads", "a zip without movies.csv",
         "does not contain ml-latest-small/movies.csv", case_download_other_member),
    Case("download-path-traversal", "downloads", "member named ../../../../tmp/movrec-evil/movies.csv",
         "extracted to ml-latest-small/movies.csv (sha256 verified)", case_download_path_traversal),
    Case("provider-wrong-dimensions", "providers", "63-d vectors for a 64-d model",
         "returned 63-dimensional vectors, expected 64", case_wrong_dimensions),
    Case("provider-nan", "providers", "NaN inside a vector", "embedding contains NaN or Inf", case_nan),
    Case("provider-empty-list", "providers", '200 OK with "data": []', "returned 0 vectors for", case_empty_list),
    Case("provider-bad-key-401", "providers", "401 echoing the key", "rejected the API key (401)", case_bad_key),
    Case("provider-unknown-model-404", "providers", "model the server does not have",
         "answered 404 for model 'rel-no-such-model'", case_unknown_model),
    Case("vector-dimension-mismatch", "providers", "a 32-d vector stored under a 64-d model",
         "film_vectors_complete failed: wrong_dimensions=1", case_vector_dimension_mismatch),
    Case("config-template-version-sql", "config", f"EmbeddingResource.template_version = 'rel-{INJECTION}'",
         f"registered template_version = rel-{INJECTION}", case_template_version_injection),
    Case("config-model-name-sql", "config", "EmbeddingResource.model = 'rel-films; DROP TABLE customer'",
         "registered model = rel-films; DROP TABLE customer", case_model_name_injection),
    Case("config-index-method-sql", "config", "IndexResource.method = 'hnsw; DROP TABLE …'",
         "unknown index method 'hnsw; DROP TABLE dvdrental.customer; --': set index_method to hnsw or ivfflat",
         case_index_method_injection),
    Case("config-table-and-schema-names", "config", "table 'films; DROP TABLE customer', schema 'dvdrental; …'",
         'relation "movrec.films; DROP TABLE customer" does not exist', case_identifier_quoting),
    Case("config-url-env-var-password", "config", "PostgresResource.database_url = a variable's URL with a password",
         "cannot connect to postgresql://movrec:***@127.0.0.1:1/movrec", case_url_env_var_with_password),
    Case("config-password-in-query-string", "config", "DATABASE_URL=…?password=…",
         "cannot connect to postgresql:///movrec?host=127.0.0.1&port=1&password=***", case_password_in_query_string),
    Case("cli-unknown-customer", "CLI", "movrec recommend --customer 999999",
         "movrec: unknown customer 999999 (customer ids are 1–599)", case_unknown_customer),
    Case("cli-customer-id-sql", "CLI", "movrec recommend --customer '1; DROP TABLE dvdrental.customer'",
         "argument --customer: invalid int value", case_customer_id_injection),
    Case("cli-sql-in-search-text", "CLI", "movrec search \"x'); DROP TABLE movielens.movies; --\"",
         "movies still 9742", case_sql_in_search_text),
]


@pytest.fixture(scope="module", autouse=True)
def reload_real_sources(baseline: Baseline):
    """After the table: the real files again, and the warehouse exactly as the clean run left it."""
    yield
    result = materialize(dg.AssetSelection.assets("netflix_titles", "movielens_movies")
                         .required_multi_asset_neighbors())
    assert result.success, step_errors(result)
    assert not baseline.check_unchanged()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, baseline: Baseline, faults, archives, tmp_path: Path,
                       capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    FIGURES.cases[case.name] = False
    observed = case.run(Ctx(baseline, faults, archives, tmp_path, capsys, monkeypatch))
    assert case.expected in observed, f"{case.name}: expected {case.expected!r} in {observed!r}"
    assert "\n" not in observed.strip()
    changed = baseline.check_unchanged(*[t for t in baseline.tables if t != "movrec.quarantine"])
    assert not changed, f"earlier good data changed: {sorted(changed)}"
    assert one(baseline.url, "SELECT count(*) FROM dvdrental.customer") == 599
    FIGURES.cases[case.name] = True
