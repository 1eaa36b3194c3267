"""Blocking asset checks of every source: the audits' Great Expectations suites on the published tables."""

import dagster as dg
import pandas as pd

from movrec_pipeline.defs.metadata import markdown_table
from movrec_pipeline.defs.resources import PostgresResource
from movrec_pipeline.defs.sources import audits
from movrec_pipeline.defs.sources.gx_validation import Outcome


def outcome_table(outcomes: list[Outcome]) -> pd.DataFrame:
    return pd.DataFrame([{"expectation": o.expectation, "ok": "✅" if o.success else "❌",
                          "unexpected": o.unexpected, "examples": ", ".join(map(str, o.examples))}
                         for o in outcomes])


def gx_asset_check(check: audits.SourceCheck) -> dg.AssetChecksDefinition:
    """A blocking check running ``check`` on the published tables, inside PostgreSQL."""

    @dg.asset_check(asset=check.asset, name=check.name, blocking=True, description=check.description)
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        outcomes = audits.run_check(postgres.url(), check)
        failed = [o for o in outcomes if not o.success]
        return dg.AssetCheckResult(passed=not failed, severity=dg.AssetCheckSeverity.ERROR, metadata={
            "expectations": len(outcomes), "failed": len(failed),
            "results": dg.MetadataValue.md(markdown_table(outcome_table(outcomes), max_rows=50, max_chars=80)),
        })

    return _check


dvdrental_films_valid = gx_asset_check(audits.BY_NAME["dvdrental_films_valid"])
dvdrental_rentals_valid = gx_asset_check(audits.BY_NAME["dvdrental_rentals_valid"])
netflix_titles_valid = gx_asset_check(audits.BY_NAME["netflix_titles_valid"])
movielens_movies_valid = gx_asset_check(audits.BY_NAME["movielens_movies_valid"])
movielens_ratings_valid = gx_asset_check(audits.BY_NAME["movielens_ratings_valid"])
movielens_links_valid = gx_asset_check(audits.BY_NAME["movielens_links_valid"])
movielens_tags_valid = gx_asset_check(audits.BY_NAME["movielens_tags_valid"])
