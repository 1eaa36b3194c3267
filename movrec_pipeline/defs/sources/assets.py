"""Source assets: dvdrental, the Netflix titles and MovieLens, each staged, audited, then published atomically."""

from collections.abc import Iterator

import dagster as dg

from movrec_pipeline.core import paths
from movrec_pipeline.defs.failures import permanent_errors
from movrec_pipeline.defs.metadata import column_schema, kept_as_is, preview
from movrec_pipeline.defs.policies import DB_POOL, DB_RETRY, OWNERS
from movrec_pipeline.defs.resources import DataDirResource, PostgresResource
from movrec_pipeline.defs.sources import audits, files
from movrec_pipeline.defs.sources import dvdrental_restore as dvd
from movrec_pipeline.defs.sources import movielens_csv as ml_clean
from movrec_pipeline.defs.sources import netflix_csv as nf_clean
from movrec_pipeline.defs.sources.loading import (
    SourceLoadConfig,
    audit_failure,
    inputs_fingerprint,
    load_and_publish,
    published_unchanged,
)
from movrec_pipeline.warehouse import fingerprints, sqlfiles
from movrec_pipeline.warehouse.tables import replace_quarantine

GROUP = "sources"


def _locate(data: DataDirResource, spec: files.DataFile, *alternatives: str):
    return files.locate(spec, data.path(), paths.download_cache_dir(),
                        allow_download=data.allow_download, alternatives=alternatives)


@dg.asset(
    group_name=GROUP, kinds={"postgres"}, owners=OWNERS, code_version="2", pool=DB_POOL, retry_policy=DB_RETRY,
    description="The dvdrental sample database (pg_restore archive: tar, zip, custom or directory format) "
    "restored aside into schema `dvdrental_next`, audited (GX, shrink guard), then swapped in for `dvdrental` "
    "in one transaction.",
)
def dvdrental(context: dg.AssetExecutionContext, config: SourceLoadConfig, postgres: PostgresResource,
              data: DataDirResource) -> dg.MaterializeResult:
    reports: list[audits.AuditReport] = []

    def audit(conn, schema: str) -> None:
        staged = {t: (schema, t) for t in ("film", "rental", "inventory", "customer")}
        report = audits.audit(conn, postgres.url(), "dvdrental", staged, max_shrink=config.max_shrink,
                              allow_shrink=config.allow_shrink or audits.allow_shrink_from_env())
        reports.append(report)
        if not report.passed:
            raise audit_failure(report, "dvdrental")

    with permanent_errors():
        archive = files.find_dvdrental(data.path(), paths.download_cache_dir(), allow_download=data.allow_download)
        fingerprint = inputs_fingerprint(files.sha256_of(archive)) if archive.is_file() else None
        tables = [f"dvdrental.{t}" for t in dvd.TABLES]
        if fingerprint and published_unchanged(postgres, "dvdrental", fingerprint, tables):
            return kept_as_is(context, postgres.count_rows("dvdrental.film"))
        counts = dvd.restore(archive, postgres.url(), postgres.pg_bin("pg_restore"), postgres.pg_bin("pg_dump"),
                             audit=audit)
        if fingerprint:
            with postgres.connect() as conn, conn.transaction():
                fingerprints.record(conn, "dvdrental", fingerprint)
    context.log.info("restored %s: %s", archive.name, counts)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["film"],
        **{f"{table}_rows": n for table, n in counts.items()},
        "archive": archive.name,
        "archive_format": dvd.archive_format(archive),
        "archive_sha256": files.sha256_of(archive) if archive.is_file() else "(directory-format dump)",
        "dagster/column_schema": column_schema([("film_id", "integer"), ("title", "text"),
                                                ("description", "text"), ("release_year", "integer"),
                                                ("rating", "mpaa_rating")]),
    })


NETFLIX_COLUMNS = [
    ("show_id", "text"), ("show_type", "text"), ("title", "text"), ("director", "text"),
    ("cast_members", "text[]"), ("countries", "text[]"), ("date_added", "date"), ("release_year", "integer"),
    ("rating", "text"), ("duration_minutes", "integer"), ("seasons", "integer"), ("listed_in", "text[]"),
    ("description", "text"),
]


@dg.asset(
    group_name=GROUP, kinds={"postgres", "pandas"}, owners=OWNERS, code_version="2", pool=DB_POOL,
    retry_policy=DB_RETRY,
    description="Netflix titles (Kaggle shivamb/netflix-shows) as the typed table `netflix.shows`, staged, "
    "audited (GX, shrink guard) and swapped in; "
    "rows that cannot be repaired go to `movrec.quarantine` with the reason.",
)
def netflix_titles(context: dg.AssetExecutionContext, config: SourceLoadConfig, postgres: PostgresResource,
                   data: DataDirResource) -> dg.MaterializeResult:
    with permanent_errors():
        path = _locate(data, files.NETFLIX)
        fingerprint = inputs_fingerprint(files.sha256_of(path))
        if published_unchanged(postgres, "netflix_titles", fingerprint, ["netflix.shows"]):
            return kept_as_is(context, postgres.count_rows("netflix.shows"))
        parsed = nf_clean.parse_netflix_csv(path)
    report = load_and_publish(
        postgres, config, "netflix_titles", "netflix_titles",
        {"shows": (parsed.shows, [c for c, _ in NETFLIX_COLUMNS])},
        after=lambda conn: replace_quarantine(conn, "netflix_titles", parsed.quarantine), fingerprint=fingerprint)
    rows, quarantined = report.staged_rows["shows"], len(parsed.quarantine)
    context.log.info("netflix: %d shows, %d quarantined", rows, quarantined)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "previously_published_rows": report.published_rows["shows"],
        "quarantined": quarantined,
        "header_rows_dropped": parsed.header_rows_dropped,
        "source_sha256": files.sha256_of(path),
        "dagster/column_schema": column_schema(NETFLIX_COLUMNS),
        "preview": preview(
            parsed.shows[["show_id", "show_type", "title", "release_year", "date_added", "listed_in"]]),
        "quarantine_preview": preview(parsed.quarantine),
    })


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
        dg.AssetSpec(key, group_name=GROUP, kinds={"postgres", "pandas"}, owners=OWNERS, code_version="2",
                     description=f"MovieLens `{table}` in `movielens.{table}`: bulk COPY into a stage, audited (GX, "
                     "shrink guard), published with the other MovieLens tables in one transaction; bad rows "
                     "quarantined.",
                     metadata={"dagster/column_schema": column_schema(cols)})
        for key, (table, cols) in MOVIELENS_TABLES.items()
    ],
    name="movielens", retry_policy=DB_RETRY, pool=DB_POOL, can_subset=False,
)
def movielens(context: dg.AssetExecutionContext, config: SourceLoadConfig, postgres: PostgresResource,
              data: DataDirResource) -> Iterator[dg.MaterializeResult]:
    with permanent_errors():
        release = files.movielens_release(data_dir=data.path())
        found = files.locate_all(release.files(), data.path(), paths.download_cache_dir(),
                                 allow_download=data.allow_download)
        checksums = {table: files.sha256_of(found[table]) for table in found}
        fingerprint = inputs_fingerprint(release.name, checksums)
        if published_unchanged(postgres, "movielens", fingerprint, [f"movielens.{t}" for t in checksums]):
            for key, (table, _) in MOVIELENS_TABLES.items():
                yield kept_as_is(context, postgres.count_rows(f"movielens.{table}"), asset_key=key)
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
        conn.execute(sqlfiles.load("sources/movielens_search"))  # its view read the tables just replaced

    report = load_and_publish(
        postgres, config, "MovieLens", "movielens",
        {table: (parsed[table].rows, [c for c, _ in cols]) for table, cols in MOVIELENS_TABLES.values()},
        after=quarantine_and_search, fingerprint=fingerprint)
    counts = {key: (report.staged_rows[table], len(parsed[table].quarantine))
              for key, (table, _) in MOVIELENS_TABLES.items()}
    for key, (table, _) in MOVIELENS_TABLES.items():
        rows, quarantined = counts[key]
        context.log.info("%s: %d rows, %d quarantined", key, rows, quarantined)
        yield dg.MaterializeResult(asset_key=key, metadata={
            "dagster/row_count": rows,
            "previously_published_rows": report.published_rows[table],
            "quarantined": quarantined,
            "source_sha256": checksums[table],
            "release": release.name,
            "preview": preview(parsed[table].rows),
            "quarantine_preview": preview(parsed[table].quarantine),
        })
