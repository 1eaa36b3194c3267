"""Source assets: dvdrental, the Netflix titles and MovieLens, each staged, audited, then published atomically.

Each load's data version is its files' checksums (and the loader's version): the same files again mean no work.
The blocking checks of each source are the audit of its staged tables (``checks.py``).
"""

from collections.abc import Iterator

import dagster as dg

from movrec_pipeline.core import paths
from movrec_pipeline.defs import versions
from movrec_pipeline.defs.failures import movrec_errors_as_failures
from movrec_pipeline.defs.metadata import column_schema, preview
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, OWNERS
from movrec_pipeline.defs.resources import PostgresResource, SourcesResource
from movrec_pipeline.defs.sources.checks import audit_results, check_specs, unchanged_results
from movrec_pipeline.ingest import audits, files, wap
from movrec_pipeline.ingest import dvdrental_restore as dvd
from movrec_pipeline.ingest import movielens_csv as ml_clean
from movrec_pipeline.ingest import netflix_csv as nf_clean
from movrec_pipeline.warehouse import fingerprints, movielens_search
from movrec_pipeline.warehouse.tables import replace_quarantine

GROUP = "sources"


class SourceLoadConfig(dg.Config):
    """Run config of the source assets: override how far a new file may shrink a published table."""

    allow_shrink: bool = False  # or MOVREC_ALLOW_SHRINK=1 (the sources resource)
    max_shrink: float | None = None  # None: MOVREC_MAX_SHRINK (default 5 %)


def _shrink(config: SourceLoadConfig, sources: SourcesResource) -> dict:
    return {"allow_shrink": config.allow_shrink or sources.allow_shrink,
            "max_shrink": sources.max_shrink if config.max_shrink is None else config.max_shrink}


def _refused(exc: wap.AuditRefused) -> dg.Failure:
    """The one-line refusal, with the staged and published figures as metadata."""
    report = exc.report
    metadata: dict[str, int | str] = {f"staged_rows: {t}": n for t, n in report.staged_rows.items()}
    metadata.update({f"published_rows: {t}": n for t, n in report.published_rows.items()})
    metadata["problems"] = " | ".join(report.problems)
    return dg.Failure(str(exc), metadata=metadata, allow_retries=False)


def _present(postgres: PostgresResource, tables: list[str]) -> bool:
    with postgres.connect() as conn:
        return all(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (t,)).fetchone()[0] for t in tables)


def _version(postgres: PostgresResource, *inputs: object) -> str:
    with postgres.connect() as conn:
        return wap.source_version(fingerprints.warehouse_identity(conn), *inputs)


@dg.asset(
    group_name=GROUP, kinds={"postgres"}, owners=OWNERS, code_version="3", pool=DB_POOL, retry_policy=DB_RETRY,
    check_specs=check_specs("dvdrental"),
    description="The dvdrental sample database (pg_restore archive: tar, zip, custom or directory format) "
    "restored aside into schema `dvdrental_next`, audited (GX, shrink guard), then swapped in for `dvdrental` "
    "in one transaction.",
)
def dvdrental(context: dg.AssetExecutionContext, config: SourceLoadConfig, postgres: PostgresResource,
              sources: SourcesResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    reports: list[audits.AuditReport] = []

    def audit(conn, schema: str) -> None:
        staged = {t: (schema, t) for t in ("film", "rental", "inventory", "customer")}
        report = audits.audit(conn, postgres.url(), "dvdrental", staged, **_shrink(config, sources))
        reports.append(report)
        if not report.passed:
            raise wap.AuditRefused(report, "dvdrental")

    with movrec_errors_as_failures():
        archive = files.find_dvdrental(sources.path(), paths.download_cache_dir(),
                                       allow_download=sources.allow_download, named=sources.dvdrental_archive)
        checksum = files.digest_of(archive)
        version = _version(postgres, checksum)
        tables = [f"dvdrental.{t}" for t in dvd.TABLES]
        if versions.unchanged(context, version) and _present(postgres, tables):
            yield versions.kept(context, version, postgres.count_rows("dvdrental.film"))
            yield from unchanged_results("dvdrental")
            return
        try:
            counts = dvd.restore(archive, postgres.url(), postgres.pg_bin("pg_restore"),
                                 postgres.pg_bin("pg_dump"), audit=audit)
        except wap.AuditRefused as exc:
            yield from audit_results("dvdrental", exc.report)
            raise _refused(exc) from None
        with postgres.connect() as conn, conn.transaction():
            fingerprints.record(conn, "dvdrental", version)
    context.log.info("restored %s: %s", archive.name, counts)
    yield dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": counts["film"],
        **{f"{table}_rows": n for table, n in counts.items()},
        "archive": archive.name,
        "archive_format": dvd.archive_format(archive),
        "archive_sha256": checksum,
        "dagster/column_schema": column_schema([("film_id", "integer"), ("title", "text"),
                                                ("description", "text"), ("release_year", "integer"),
                                                ("rating", "mpaa_rating")]),
    })
    yield from audit_results("dvdrental", reports[-1])


NETFLIX_COLUMNS = [
    ("show_id", "text"), ("show_type", "text"), ("title", "text"), ("director", "text"),
    ("cast_members", "text[]"), ("countries", "text[]"), ("date_added", "date"), ("release_year", "integer"),
    ("rating", "text"), ("duration_minutes", "integer"), ("seasons", "integer"), ("listed_in", "text[]"),
    ("description", "text"),
]


@dg.asset(
    group_name=GROUP, kinds={"postgres", "pandas"}, owners=OWNERS, code_version="3", pool=DB_POOL,
    retry_policy=DB_RETRY, check_specs=check_specs("netflix_titles"),
    description="Netflix titles (Kaggle shivamb/netflix-shows) as the typed table `netflix.shows`, staged, "
    "audited (GX, shrink guard) and swapped in; rows that cannot be repaired go to `movrec.quarantine` with the "
    "reason.",
)
def netflix_titles(context: dg.AssetExecutionContext, config: SourceLoadConfig, postgres: PostgresResource,
                   sources: SourcesResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    with movrec_errors_as_failures():
        path = files.locate(files.NETFLIX, sources.path(), paths.download_cache_dir(),
                            allow_download=sources.allow_download)
        checksum = files.sha256_of(path)
        version = _version(postgres, checksum)
        if versions.unchanged(context, version) and _present(postgres, ["netflix.shows"]):
            yield versions.kept(context, version, postgres.count_rows("netflix.shows"))
            yield from unchanged_results("netflix_titles")
            return
        parsed = nf_clean.parse_netflix_csv(path)
        try:
            report = wap.load_and_publish(
                postgres.url(), "netflix_titles", "netflix_titles",
                {"shows": (parsed.shows, [c for c, _ in NETFLIX_COLUMNS])}, **_shrink(config, sources),
                after=lambda conn: replace_quarantine(conn, "netflix_titles", parsed.quarantine), version=version)
        except wap.AuditRefused as exc:
            yield from audit_results("netflix_titles", exc.report)
            raise _refused(exc) from None
    rows, quarantined = report.staged_rows["shows"], len(parsed.quarantine)
    context.log.info("netflix: %d shows, %d quarantined", rows, quarantined)
    if parsed.unknown_columns:
        context.log.warning("netflix: column(s) %s not known to the loader: loaded around, not stored",
                            ", ".join(parsed.unknown_columns))
    yield dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
        "dagster/row_count": rows,
        "previously_published_rows": report.published_rows["shows"],
        "quarantined": quarantined,
        "header_rows_dropped": parsed.header_rows_dropped,
        "unknown_columns_ignored": ", ".join(parsed.unknown_columns) or "none",
        "source_sha256": checksum,
        "dagster/column_schema": column_schema(NETFLIX_COLUMNS),
        "preview": preview(
            parsed.shows[["show_id", "show_type", "title", "release_year", "date_added", "listed_in"]]),
        "quarantine_preview": preview(parsed.quarantine),
    })
    yield from audit_results("netflix_titles", report)


MOVIELENS_TABLES = {
    "movielens_movies": ("movies", [("movie_id", "integer"), ("title", "text"), ("clean_title", "text"),
                                    ("year", "integer"), ("genres", "text[]")]),
    "movielens_ratings": ("ratings", [("user_id", "integer"), ("movie_id", "integer"),
                                      ("rating", "real"), ("rated_at", "timestamptz")]),
    "movielens_links": ("links", [("movie_id", "integer"), ("imdb_id", "integer"), ("tmdb_id", "integer")]),
    "movielens_tags": ("tags", [("user_id", "integer"), ("movie_id", "integer"), ("tag", "text"),
                                ("tagged_at", "timestamptz")]),
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, group_name=GROUP, kinds={"postgres", "pandas"}, owners=OWNERS, code_version="3",
                     description=f"MovieLens `{table}` in `movielens.{table}`: bulk COPY into a stage, audited (GX, "
                     "shrink guard), published with the other MovieLens tables in one transaction; bad rows "
                     "quarantined.",
                     metadata={"dagster/column_schema": column_schema(cols)})
        for key, (table, cols) in MOVIELENS_TABLES.items()
    ],
    check_specs=check_specs("movielens"), name="movielens", retry_policy=DB_RETRY, pool=DB_POOL, can_subset=False,
)
def movielens(context: dg.AssetExecutionContext, config: SourceLoadConfig, postgres: PostgresResource,
              sources: SourcesResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    with movrec_errors_as_failures():
        release = sources.release()
        found = files.locate_all(release.files(), sources.path(), paths.download_cache_dir(),
                                 allow_download=sources.allow_download)
        checksums = {table: files.sha256_of(found[table]) for table in found}
        versions_by_key = {key: _version(postgres, release.name, checksums[table], checksums["movies"])
                           for key, (table, _) in MOVIELENS_TABLES.items()}
        tables = [f"movielens.{t}" for t in checksums]
        if all(versions.unchanged(context, v, dg.AssetKey(k)) for k, v in versions_by_key.items()) and _present(
                postgres, tables):
            movielens_search.ensure_table(postgres.url())  # a warehouse published before the statistics tables
            for key, (table, _) in MOVIELENS_TABLES.items():
                yield versions.kept(context, versions_by_key[key], postgres.count_rows(f"movielens.{table}"),
                                    dg.AssetKey(key))
            yield from unchanged_results("movielens")
            return
        movies = ml_clean.parse_movies(found["movies"])
        known = set(movies.rows["movie_id"].astype(int))
        parsed = {
            "movies": movies,
            "links": ml_clean.parse_links(found["links"], known),
            "ratings": ml_clean.parse_ratings(found["ratings"], known),
            "tags": ml_clean.parse_tags(found["tags"], known),
        }

        def quarantine_and_search(conn) -> None:
            for key, (table, _) in MOVIELENS_TABLES.items():
                replace_quarantine(conn, key, parsed[table].quarantine)
                fingerprints.record(conn, key, versions_by_key[key])
            movielens_search.build(conn)  # its statistics read the tables just replaced

        try:
            report = wap.load_and_publish(
                postgres.url(), "MovieLens", "movielens",
                {table: (parsed[table].rows, [c for c, _ in cols]) for table, cols in MOVIELENS_TABLES.values()},
                **_shrink(config, sources), floors=release.floors, after=quarantine_and_search)
        except wap.AuditRefused as exc:
            yield from audit_results("movielens", exc.report)
            raise _refused(exc) from None
    for key, (table, _) in MOVIELENS_TABLES.items():
        rows, quarantined = report.staged_rows[table], len(parsed[table].quarantine)
        context.log.info("%s: %d rows, %d quarantined", key, rows, quarantined)
        yield dg.MaterializeResult(asset_key=key, data_version=dg.DataVersion(versions_by_key[key]), metadata={
            "dagster/row_count": rows,
            "previously_published_rows": report.published_rows[table],
            "quarantined": quarantined,
            "source_sha256": checksums[table],
            "release": release.name,
            "preview": preview(parsed[table].rows),
            "quarantine_preview": preview(parsed[table].quarantine),
        })
    yield from audit_results("movielens", report)
