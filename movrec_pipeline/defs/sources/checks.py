"""Great Expectations checks of every source: keys, ranges, foreign keys and row-count floors (blocking)."""

import dagster as dg
import pandas as pd

from movrec_pipeline.defs.metadata import markdown_table
from movrec_pipeline.defs.resources import PostgresResource
from movrec_pipeline.defs.sources import gx_validation as gx
from movrec_pipeline.defs.sources.gx_validation import Expect
from movrec_pipeline.warehouse import sqlfiles

TRUE = frozenset({True})


def outcome_table(outcomes: list[gx.Outcome]) -> pd.DataFrame:
    return pd.DataFrame([{"expectation": o.expectation, "ok": "✅" if o.success else "❌",
                          "unexpected": o.unexpected, "examples": ", ".join(map(str, o.examples))}
                         for o in outcomes])


def gx_asset_check(asset: str, name: str, expectations: list[Expect], description: str) -> dg.AssetChecksDefinition:
    """A blocking check validating the rows of ``sql/sources/<name>.sql`` with Great Expectations."""

    @dg.asset_check(asset=asset, name=name, blocking=True, description=description)
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        frame = postgres.read_frame(sqlfiles.load(f"sources/{name}"))
        outcomes = gx.validate(frame, expectations, name)
        failed = [o for o in outcomes if not o.success]
        return dg.AssetCheckResult(passed=not failed, severity=dg.AssetCheckSeverity.ERROR, metadata={
            "expectations": len(outcomes), "failed": len(failed), "rows_checked": len(frame),
            "results": dg.MetadataValue.md(markdown_table(outcome_table(outcomes), max_rows=50, max_chars=80)),
        })

    return _check



dvdrental_films_valid = gx_asset_check(
    "dvdrental", "dvdrental_films_valid",
    [Expect("unique", "film_id"), Expect("not_null", "film_id"), Expect("not_null", "title"),
     Expect("between", "rental_rate", 0, 100), Expect("between", "release_year", 1900, 2100),
     Expect("row_count_between", min_value=1000)],
    "Films: unique non-null ids, titles present, sane rental rates and years, at least 1,000 rows.",
)

dvdrental_rentals_valid = gx_asset_check(
    "dvdrental", "dvdrental_rentals_valid",
    [Expect("unique", "rental_id"), Expect("in_set", "inventory_known", value_set=TRUE),
     Expect("in_set", "customer_known", value_set=TRUE), Expect("in_set", "film_known", value_set=TRUE),
     Expect("row_count_between", min_value=16000)],
    "Rentals: unique ids; every rental points at known inventory, customer and film; at least 16,000.",
)

netflix_titles_valid = gx_asset_check(
    "netflix_titles", "netflix_titles_valid",
    [Expect("unique", "show_id"), Expect("not_null", "show_id"), Expect("not_null", "title"),
     Expect("in_set", "show_type", value_set=frozenset({"Movie", "TV Show"})),
     Expect("between", "release_year", 1900, 2100), Expect("between", "duration_minutes", 1, 1000),
     Expect("between", "seasons", 1, 100), Expect("row_count_between", min_value=8000)],
    "Shows: unique ids and titles, known types, plausible years/durations, at least 8,000 rows.",
)

movielens_movies_valid = gx_asset_check(
    "movielens_movies", "movielens_movies_valid",
    [Expect("unique", "movie_id"), Expect("not_null", "title"), Expect("between", "year", 1870, 2100),
     Expect("row_count_between", min_value=9000)],
    "Movies: unique ids, titles present, years in range, at least 9,000 rows.",
)

movielens_ratings_valid = gx_asset_check(
    "movielens_ratings", "movielens_ratings_valid",
    [Expect("not_null", "user_id"), Expect("between", "rating", 0.5, 5.0),
     Expect("in_set", "movie_known", value_set=TRUE), Expect("row_count_between", min_value=100000)],
    "Ratings: 0.5–5.0, every rating points at a known movie, at least 100,000 rows.",
)

movielens_links_valid = gx_asset_check(
    "movielens_links", "movielens_links_valid",
    [Expect("unique", "movie_id"), Expect("in_set", "movie_known", value_set=TRUE),
     Expect("row_count_between", min_value=9000)],
    "Links: one per movie, all pointing at known movies.",
)

movielens_tags_valid = gx_asset_check(
    "movielens_tags", "movielens_tags_valid",
    [Expect("not_null", "tag"), Expect("in_set", "movie_known", value_set=TRUE),
     Expect("row_count_between", min_value=1000)],
    "Tags: non-empty, all pointing at known movies.",
)
